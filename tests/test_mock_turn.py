"""What the mock does with a Chat Completions request, and how the turn is generated and billed."""

from __future__ import annotations

from typing import Any

import pytest

from labsupport.mock_turn import DEFAULT_K, TurnRun, plan
from labsupport.mockllm import MockLLM
from labsupport.openai_wire import ChatCompletionRequest, WireError
from labsupport.search_tool import SEARCH_TOOL

QUESTION = [{"role": "user", "content": "Who runs billing?"}]


def request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "lab-mock-1", **fields})


def pieces(run: TurnRun) -> str:
    return "".join(step for step in run.steps() if isinstance(step, str))


def test_an_offered_search_tool_is_called_with_a_query_and_k() -> None:
    llm = MockLLM.instant()
    turn = plan(request(messages=QUESTION, tools=[SEARCH_TOOL]), llm)
    assert turn.kind == "tool_call"
    run = TurnRun(turn, llm, None)
    assert pieces(run) == f'{{"query": "runs billing", "k": {DEFAULT_K}}}'
    assert run.finish_reason == "tool_calls"
    # The tool call is paced and billed like any answer.
    assert llm.tokens_generated == run.completion_tokens > 0


def test_without_tools_the_mock_answers_and_stops_at_the_token_limit() -> None:
    llm = MockLLM.instant()
    run = TurnRun(plan(request(messages=QUESTION), llm), llm, 3)
    assert len(pieces(run).split()) <= 3
    assert run.finish_reason == "length"
    assert llm.tokens_generated == run.usage().completion_tokens == 3


def test_a_conversation_without_a_user_message_is_refused() -> None:
    with pytest.raises(WireError, match="at least one 'user' message"):
        plan(request(messages=[{"role": "system", "content": "hi"}]), MockLLM.instant())
