"""Lesson 6's optional section: Semantic Kernel's OpenAI connector against the keyless endpoint.

Semantic Kernel is an optional dependency (the ``sk`` extra, part of ``dev``), so
the test command installs it and these tests run in CI; elsewhere they skip.
"""

from __future__ import annotations

import warnings

import pytest

from labsupport.search_tool import run_search_tool
from tests.support.openai_server import MockEndpoints

sk = pytest.importorskip(
    "semantic_kernel", reason="Semantic Kernel is optional: pip install -e '.[sk]'"
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the package's own deprecation notices at import time
    from semantic_kernel import Kernel
    from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
    from semantic_kernel.connectors.ai.open_ai import (
        OpenAIChatCompletion,
        OpenAIChatPromptExecutionSettings,
    )
    from semantic_kernel.contents import ChatHistory
    from semantic_kernel.functions import kernel_function


class KnowledgeBase:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    @kernel_function(name="search_kb", description="Search Kestrel's knowledge base.")
    def search_kb(self, query: str, k: int = 3) -> str:
        self.calls.append({"query": query, "k": k})
        return run_search_tool({"query": query, "k": k})[1]


async def test_semantic_kernel_streams_a_grounded_answer_through_its_tool_loop(
    lab: MockEndpoints,
) -> None:
    endpoint = lab["instant"]
    endpoint.reset()
    chat = OpenAIChatCompletion(ai_model_id="lab-mock-1", async_client=endpoint.async_client())
    kernel = Kernel()
    kernel.add_service(chat)
    kb = KnowledgeBase()
    kernel.add_plugin(kb, plugin_name="kb")
    history = ChatHistory()
    history.add_user_message("Who runs billing?")
    settings = OpenAIChatPromptExecutionSettings(
        function_choice_behavior=FunctionChoiceBehavior.Auto()
    )

    pieces: list[str] = []
    async for chunk in chat.get_streaming_chat_message_content(history, settings, kernel=kernel):
        if chunk is not None and str(chunk):
            pieces.append(str(chunk))

    assert kb.calls == [{"query": "runs billing", "k": 3}], "the kernel ran our tool for the model"
    answer = "".join(pieces)
    assert "Dana Okafor leads the Payments team, which runs billing." in answer
    assert answer.endswith("[D1, D3]")
    assert len(pieces) > 5, "the answer arrived in pieces, not as one blob"
    assert endpoint.llm.tokens_generated > 0
