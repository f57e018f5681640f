"""The agent on the openai SDK: function calling first, then the answer, streamed as lab events.

The run tells the same story as the mock agent (``labsupport.agent``), with a
real model deciding the tool call::

    status "thinking" -> status "the model is calling search_kb" -> thought
    -> tool_call -> status "searching the knowledge base" -> tool_result
    -> status "writing the answer" -> token... -> citation... -> cost -> done

Both turns are streamed, so progress shows while the model is still writing
the tool call. Citations come after the answer: they are the documents the
model cited in brackets, among those the tool returned. A failure anywhere ends
the run with one ``error`` event.

The logic is written once (``_AgentRun``, which never does I/O); ``openai_chat_stream``
drives it with ``OpenAI`` and ``aopenai_chat_stream`` with ``AsyncOpenAI``.
Closing (or cancelling) the stream closes the SDK's HTTP response, so the
server sees the disconnect and stops generating.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any

from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionChunk

from .agent import TOOL_NAME
from .agent_args import check_k, check_question, check_run_id
from .events import (
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    Source,
    StatusEvent,
    ThoughtEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from .mockllm import Prices
from .numbering import Numbering, new_run_id
from .openai_adapter import ChunkReader
from .search_tool import SEARCH_TOOL, run_search_tool

__all__ = [
    "MAX_TOOL_ROUNDS",
    "SYSTEM_PROMPT",
    "aopenai_chat_stream",
    "openai_chat_stream",
]

SYSTEM_PROMPT = (
    "You are Kestrel's internal assistant. Look facts up with the search_kb tool, answer "
    "only from what it returns, and cite the documents you used by id in brackets, like [D1]."
)

MAX_TOOL_ROUNDS = 3
"""How many tool-calling turns a run may take before it gives up."""

_CITED = re.compile(r"\[([^\[\]]+)\]")


def _cited_ids(answer: str) -> list[str]:
    """Document ids cited in brackets, in order: ``'... [D1, D3]' -> ['D1', 'D3']``."""
    ids: list[str] = []
    for group in _CITED.findall(answer):
        for part in group.split(","):
            doc_id = part.strip()
            if doc_id and doc_id not in ids:
                ids.append(doc_id)
    return ids


class _AgentRun:
    """One run of the agent, without I/O: it says what to request and turns chunks into events."""

    def __init__(
        self,
        question: str,
        *,
        model: str,
        k: int,
        run_id: str,
        prices: Mapping[str, Prices] | None,
        max_tool_rounds: int,
    ) -> None:
        self.model = model
        self.k = k
        self.prices = prices
        self.max_tool_rounds = max_tool_rounds
        self.emit = Numbering(run_id)
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]
        self.reader: ChunkReader | None = None
        self.rounds = 0
        self.finished = False
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._returned: dict[str, str] = {}  # doc id -> title, from every tool result

    def start(self) -> list[Event]:
        return [self.emit(StatusEvent, message="thinking")]

    def request(self) -> dict[str, Any]:
        """The keyword arguments of the next ``chat.completions.create`` call; starts a turn."""
        self.reader = ChunkReader(self.emit, prices=self.prices)
        return {
            "model": self.model,
            "messages": list(self.messages),
            "tools": [SEARCH_TOOL],
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    def feed(self, chunk: ChatCompletionChunk) -> list[Event]:
        assert self.reader is not None
        if not self.reader.text and _has_text(chunk):
            return [self.emit(StatusEvent, message="writing the answer"), *self.reader.feed(chunk)]
        return self.reader.feed(chunk)

    def end_turn(self) -> list[Event]:
        """Finish the turn: run the tools it called (another turn follows) or end the run."""
        reader = self.reader
        assert reader is not None
        if not reader.tool_calls.calls:
            self.finished = True
            citations = [
                self.emit(CitationEvent, doc_id=doc_id, title=self._returned[doc_id])
                for doc_id in _cited_ids(reader.text)
                if doc_id in self._returned
            ]
            # The reader adds this turn's usage to the tool turns' before pricing the run.
            cost = reader.cost_events(
                prompt_tokens=self._prompt_tokens, completion_tokens=self._completion_tokens
            )
            return [*citations, *cost, self.emit(DoneEvent)]
        if reader.usage is not None:
            self._prompt_tokens += reader.usage.prompt_tokens
            self._completion_tokens += reader.usage.completion_tokens
        self.rounds += 1
        if self.rounds > self.max_tool_rounds:
            raise _TooManyRounds(
                f"the model was still calling tools after {self.max_tool_rounds} rounds; giving up"
            )
        # Parse every call before emitting anything, so a bad one leaves no gap in ``seq``.
        calls = [
            (call.id or f"call_{call.index}", call, call.parsed_arguments())
            for call in reader.tool_calls.calls
        ]
        self.messages.append(
            {
                "role": "assistant",
                "content": reader.text or None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call_id, call, _ in calls
                ],
            }
        )
        events: list[Event] = []
        for call_id, call, arguments in calls:
            events.extend(self._run_tool(call_id, call.name, arguments))
        return events

    def _run_tool(self, call_id: str, name: str, arguments: dict[str, Any]) -> list[Event]:
        """Events of one tool call, with the tool run between them; its result joins the messages."""
        query = arguments.get("query")
        events = []
        if name == TOOL_NAME and isinstance(query, str):
            text = f"The model chose to search the knowledge base for {query!r}."
            events.append(self.emit(ThoughtEvent, text=text))
        events.append(self.emit(ToolCallEvent, call_id=call_id, name=name, arguments=arguments))
        try:
            if name != TOOL_NAME:
                raise ValueError(f"unknown tool {name!r}; the only tool is {TOOL_NAME}")
            hits, content = run_search_tool(arguments, max_k=self.k)
        except ValueError as exc:
            # Told to the model as the tool's result, as providers expect: it can recover.
            content = json.dumps({"error": str(exc)})
            self.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
            events.append(self.emit(StatusEvent, message=f"the tool call failed: {exc}"))
            events.append(self.emit(ToolResultEvent, call_id=call_id, name=name, sources=[]))
            return events
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        for hit in hits:
            self._returned[hit.doc.id] = hit.doc.title
        sources = [Source(doc_id=h.doc.id, title=h.doc.title, score=h.score) for h in hits]
        events.append(self.emit(StatusEvent, message="searching the knowledge base"))
        events.append(self.emit(ToolResultEvent, call_id=call_id, name=name, sources=sources))
        return events

    def fail(self, exc: BaseException) -> Event:
        """The ``error`` event that ends the run after ``exc``."""
        if isinstance(exc, _TooManyRounds):
            return self.emit(ErrorEvent, code="too_many_tool_rounds", message=str(exc))
        return (self.reader or ChunkReader(self.emit)).fail(exc)


class _TooManyRounds(RuntimeError):
    """The model kept calling tools past ``max_tool_rounds``."""


def _has_text(chunk: ChatCompletionChunk) -> bool:
    return any(choice.index == 0 and choice.delta.content for choice in chunk.choices)


def _start(
    question: str,
    model: str | None,
    k: int,
    run_id: str | None,
    prices: Mapping[str, Prices] | None,
    max_tool_rounds: int,
) -> _AgentRun:
    check_question(question)
    check_k(k)
    check_run_id(run_id)
    if model is not None and (not isinstance(model, str) or not model):
        raise ValueError(f"model must be a non-empty str, got {model!r}")
    if (
        isinstance(max_tool_rounds, bool)
        or not isinstance(max_tool_rounds, int)
        or max_tool_rounds < 1
    ):
        raise ValueError(f"max_tool_rounds must be an int >= 1, got {max_tool_rounds!r}")
    return _AgentRun(
        question,
        model=model or "lab-mock-1",
        k=k,
        run_id=run_id or new_run_id(),
        prices=prices,
        max_tool_rounds=max_tool_rounds,
    )


def openai_chat_stream(
    question: str,
    *,
    client: OpenAI,
    model: str | None = None,
    k: int = 3,
    run_id: str | None = None,
    prices: Mapping[str, Prices] | None = None,
    max_tool_rounds: int = MAX_TOOL_ROUNDS,
) -> Generator[Event, None, None]:
    """Answer ``question`` with the model behind ``client``, yielding the run's events.

    ``model`` defaults to the lab's mock (``"lab-mock-1"``); ``k`` is the most
    documents the search returns, whatever the model asks; ``prices`` adds prices
    for models the mock's table lacks. Bad arguments raise at once; problems
    during the run (HTTP errors, a model failing mid-stream) arrive as an
    ``error`` event. Call ``.close()`` on the generator to stop the run.
    """
    if not isinstance(client, OpenAI):
        raise TypeError(f"client must be an openai.OpenAI, got {type(client).__name__}")
    return _drive(_start(question, model, k, run_id, prices, max_tool_rounds), client)


def _drive(run: _AgentRun, client: OpenAI) -> Generator[Event, None, None]:
    try:
        yield from run.start()
        while not run.finished:
            stream = client.chat.completions.create(**run.request())
            try:
                for chunk in stream:
                    yield from run.feed(chunk)
            finally:
                # Also on GeneratorExit: the server sees the disconnect and stops.
                stream.close()
            yield from run.end_turn()
    except Exception as exc:  # any failure ends the run with exactly one error event
        yield run.fail(exc)


def aopenai_chat_stream(
    question: str,
    *,
    client: AsyncOpenAI,
    model: str | None = None,
    k: int = 3,
    run_id: str | None = None,
    prices: Mapping[str, Prices] | None = None,
    max_tool_rounds: int = MAX_TOOL_ROUNDS,
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``openai_chat_stream``, on ``AsyncOpenAI``.

    Cancel the consuming task, or ``await stream.aclose()``, to stop the run.
    """
    if not isinstance(client, AsyncOpenAI):
        raise TypeError(f"client must be an openai.AsyncOpenAI, got {type(client).__name__}")
    return _adrive(_start(question, model, k, run_id, prices, max_tool_rounds), client)


async def _adrive(run: _AgentRun, client: AsyncOpenAI) -> AsyncGenerator[Event, None]:
    try:
        for event in run.start():
            yield event
        while not run.finished:
            stream = await client.chat.completions.create(**run.request())
            try:
                async for chunk in stream:
                    for event in run.feed(chunk):
                        yield event
            finally:
                await stream.close()
            for event in run.end_turn():
                yield event
    except Exception as exc:  # any failure ends the run with exactly one error event
        yield run.fail(exc)
