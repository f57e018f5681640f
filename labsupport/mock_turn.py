"""What the lab's mock model does with one Chat Completions request, and how it generates it.

Decided from the conversation (``plan``):

1. the last user message is the question;
2. if tool messages answer it, it answers from the documents those results name,
   with bracketed citations, and ``finish_reason`` is ``"stop"``;
3. else, if a search tool is offered (the first function whose name contains
   "search", such as ``search_kb``) and ``tool_choice`` allows it, it calls that
   tool with ``{"query": ..., "k": 3}`` and ``finish_reason`` is ``"tool_calls"``;
4. else it answers from its own look-up of the knowledge base.

``TurnRun`` then generates the turn as pieces and pauses, paced and billed by the
``MockLLM`` like any answer, and counts the usage the wire reports.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Generator, Sequence
from typing import Any, Literal

from openai.types import CompletionUsage

from ._pacing import Pause
from .corpus import DOCUMENTS, Document, search
from .mockllm import MockLLM, MockStream, count_tokens
from .openai_wire import ChatCompletionRequest, ChatMessage, ToolDef, WireError

__all__ = ["DEFAULT_K", "FinishReason", "Turn", "TurnRun", "plan"]

DEFAULT_K = 3
"""How many documents the mock asks its search tool for."""

FinishReason = Literal["stop", "length", "tool_calls"]

_DOC_ID = re.compile(r"\bD\d{1,3}\b")
_KNOWN_IDS = {doc.id for doc in DOCUMENTS}


def _search_tool(tools: Sequence[ToolDef] | None) -> ToolDef | None:
    for tool in tools or ():
        if "search" in tool.function.name.lower():
            return tool
    return None


def _check_tool_messages(messages: Sequence[ChatMessage]) -> None:
    """Tool results must answer calls made earlier, and every call must be answered."""
    pending: dict[str, int] = {}
    for i, message in enumerate(messages):
        if message.role == "tool":
            if message.tool_call_id not in pending:
                raise WireError(
                    400,
                    f"Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceding message with 'tool_calls'; no call has id {message.tool_call_id!r}.",
                    param=f"messages[{i}].tool_call_id",
                )
            del pending[message.tool_call_id]
            continue
        if pending:
            where = pending[next(iter(pending))]
            raise WireError(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'; missing: {', '.join(pending)}.",
                param=f"messages[{where}]",
            )
        for call in message.tool_calls or ():
            pending[call.id] = i
    # Calls still pending at the end are fine: the client has not run the tool yet.


class Turn:
    """What the mock answers to one request: a tool call or a (grounded) answer."""

    def __init__(
        self,
        kind: Literal["tool_call", "answer"],
        question: str,
        *,
        docs: Sequence[Document] = (),
        tool: ToolDef | None = None,
        prompt_text: str = "",
    ) -> None:
        self.kind = kind
        self.question = question
        self.docs = list(docs)
        self.tool = tool
        self.prompt_text = prompt_text

    def arguments(self, llm: MockLLM) -> dict[str, Any]:
        """The tool call's arguments; ``k`` only when the tool declares it."""
        assert self.tool is not None
        args: dict[str, Any] = {"query": llm.search_query(self.question)}
        properties = (self.tool.function.parameters or {}).get("properties", {})
        if isinstance(properties, dict) and "k" in properties:
            args["k"] = DEFAULT_K
        return args


def _documents_named(text: str) -> set[str]:
    return {doc_id for doc_id in _DOC_ID.findall(text) if doc_id in _KNOWN_IDS}


def plan(request: ChatCompletionRequest, llm: MockLLM) -> Turn:
    """What the mock does with ``request``: call the search tool, or answer; ``WireError`` if it cannot."""
    messages = request.messages
    _check_tool_messages(messages)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise WireError(400, "messages must contain at least one 'user' message.", param="messages")
    question = messages[last_user].text()
    results = [m.text() for m in messages[last_user + 1 :] if m.role == "tool"]
    # Rank the documents a tool returned as the mock's own search would, then keep the strong ones.
    everything = search(llm.search_query(question), k=len(DOCUMENTS))
    if results:
        named = set().union(*(_documents_named(text) for text in results))
        docs = llm.choose_sources([h for h in everything if h.doc.id in named])
        return Turn("answer", question, docs=docs)

    tool = _search_tool(request.tools)
    choice = request.tool_choice
    if choice is not None and not isinstance(choice, str):
        offered = [t for t in request.tools or () if t.function.name == choice.function.name]
        if not offered:
            raise WireError(
                400,
                f"tool_choice names the function {choice.function.name!r}, which is not in 'tools'.",
                param="tool_choice",
            )
        if offered[0] is not tool:
            raise WireError(
                400,
                f"The lab's mock model can only call a search tool, not {choice.function.name!r}.",
                param="tool_choice",
            )
    if choice == "required" and tool is None:
        raise WireError(
            400,
            "tool_choice is 'required' but no search tool is offered; the lab's mock model "
            "can only call a function whose name contains 'search'.",
            param="tool_choice",
        )
    if tool is not None and choice != "none":
        offered_tools = "\n".join(
            f"{t.function.name}: {t.function.description or ''}" for t in request.tools or ()
        )
        conversation = "\n".join(f"{m.role}: {m.text()}" for m in messages)
        return Turn(
            "tool_call", question, tool=tool, prompt_text=f"{offered_tools}\n{conversation}"
        )
    return Turn("answer", question, docs=llm.choose_sources(everything[:DEFAULT_K]))


class TurnRun:
    """One turn being generated: yields text or argument pieces and pauses; counts usage."""

    def __init__(self, turn: Turn, llm: MockLLM, token_limit: int | None) -> None:
        self.turn = turn
        self.llm = llm
        self.token_limit = token_limit
        self.call_id = f"call_{uuid.uuid4().hex[:12]}_1"
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason: FinishReason = "tool_calls" if turn.kind == "tool_call" else "stop"

    def steps(self) -> Generator[str | Pause, None, None]:
        """Text (or argument) pieces and pauses, free of any clock (drive with ``adrive``)."""
        return self._tool_call() if self.turn.kind == "tool_call" else self._answer()

    def _tool_call(self) -> Generator[str | Pause, None, None]:
        arguments = json.dumps(self.turn.arguments(self.llm))
        return self._generate(
            self.llm.stream_text(self.turn.prompt_text, arguments, can_fail=False)
        )

    def _answer(self) -> Generator[str | Pause, None, None]:
        llm, turn, limit = self.llm, self.turn, self.token_limit
        if limit is not None and limit < count_tokens(llm.compose_answer(turn.question, turn.docs)):
            self.finish_reason = "length"
        return self._generate(llm.stream(turn.question, turn.docs))

    def _generate(self, stream: MockStream) -> Generator[str | Pause, None, None]:
        """The model's pieces and pauses, counted, and cut at ``token_limit``."""
        limit = self.token_limit
        self.prompt_tokens = stream.prompt_tokens
        try:
            for step in stream:
                yield step
                if isinstance(step, str):
                    self.completion_tokens = stream.completion_tokens
                    # Stop before pulling the next token, so nothing past the limit is billed.
                    if limit is not None and self.completion_tokens >= limit:
                        return
        finally:
            stream.close()

    def usage(self) -> CompletionUsage:
        """Tokens read and written so far, as the wire reports them."""
        return CompletionUsage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
        )
