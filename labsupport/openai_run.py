"""One run of the agent on the openai SDK, without I/O: what to request next, and the events each chunk makes.

A run alternates turns. Each turn, ``request()`` gives the keyword arguments of
one ``chat.completions.create`` call; ``feed(chunk)`` turns its chunks into lab
events; ``end_turn()`` runs the tools the model called (another turn follows)
or ends the run with citations, cost and ``done``. A tool turn is told by the
``delta.tool_calls`` that arrived, never by ``finish_reason``, which is
``"stop"`` when ``tool_choice`` forces a call. ``openai_agent`` drives a run
with ``OpenAI`` or ``AsyncOpenAI``.

    >>> cited_ids("Alice runs billing [D1, D3]; see also [D1].")
    ['D1', 'D3']
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

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
from .numbering import Numbering, new_run_id
from .openai_adapter import ChunkReader
from .prices import Prices
from .search_tool import SEARCH_TOOL, run_search_tool

__all__ = [
    "MAX_TOOL_ROUNDS",
    "SYSTEM_PROMPT",
    "AgentRun",
    "TooManyRounds",
    "cited_ids",
    "has_text",
    "start_run",
]

SYSTEM_PROMPT = (
    "You are Kestrel's internal assistant. Look facts up with the search_kb tool, answer "
    "only from what it returns, and cite the documents you used by id in brackets, like [D1]."
)

MAX_TOOL_ROUNDS = 3
"""How many tool-calling turns a run may take before it gives up."""

_CITED = re.compile(r"\[([^\[\]]+)\]")


def cited_ids(answer: str) -> list[str]:
    """Document ids cited in brackets, in order: ``'... [D1, D3]' -> ['D1', 'D3']``."""
    ids: list[str] = []
    for group in _CITED.findall(answer):
        for part in group.split(","):
            doc_id = part.strip()
            if doc_id and doc_id not in ids:
                ids.append(doc_id)
    return ids


class AgentRun:
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
        if not self.reader.text and has_text(chunk):
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
                for doc_id in cited_ids(reader.text)
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
            raise TooManyRounds(
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
        if isinstance(exc, TooManyRounds):
            return self.emit(ErrorEvent, code="too_many_tool_rounds", message=str(exc))
        return (self.reader or ChunkReader(self.emit)).fail(exc)


class TooManyRounds(RuntimeError):
    """The model kept calling tools past ``max_tool_rounds``."""


def has_text(chunk: ChatCompletionChunk) -> bool:
    """Whether ``chunk`` carries answer text (the first choice's ``delta.content``)."""
    return any(choice.index == 0 and choice.delta.content for choice in chunk.choices)


def start_run(
    question: str,
    model: str | None,
    k: int,
    run_id: str | None,
    prices: Mapping[str, Prices] | None,
    max_tool_rounds: int,
) -> AgentRun:
    """A new run after checking every argument; ``ValueError`` names the bad one."""
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
    return AgentRun(
        question,
        model=model or "lab-mock-1",
        k=k,
        run_id=run_id or new_run_id(),
        prices=prices,
        max_tool_rounds=max_tool_rounds,
    )
