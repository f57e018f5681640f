"""The lab's event vocabulary: the small typed messages an agent emits as it works.

The set is closed. A consumer switches on ``event.type`` and nothing else, so a
terminal, a widget, an SSE server and a test can all read the same stream.

Every event of a run carries the run's id and a sequence number that starts at
0 and increases by one, so a consumer can tell whether it missed something.

Example:
    >>> e = TokenEvent(run_id="run_demo", seq=7, text=" billing")
    >>> e.to_json()
    '{"type":"token","run_id":"run_demo","seq":7,"text":" billing"}'
    >>> from_json(e.to_json()) == e
    True
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "EVENT_TYPES",
    "TERMINAL_TYPES",
    "CitationEvent",
    "CostEvent",
    "DoneEvent",
    "ErrorEvent",
    "Event",
    "Source",
    "StatusEvent",
    "ThoughtEvent",
    "TokenEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "event_json_schema",
    "from_dict",
    "from_json",
]


class _BaseEvent(BaseModel):
    """Fields every event shares; not part of the vocabulary itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Declared here so it serializes first; each subclass narrows it to one literal.
    type: str
    run_id: str = Field(min_length=1, description="Id of the run this event belongs to.")
    seq: int = Field(ge=0, description="Position in the run: 0, 1, 2, ... with no gaps.")

    def to_json(self) -> str:
        """Serialize to compact JSON, ``type`` first."""
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        """Serialize to a plain dict of JSON-compatible values."""
        return self.model_dump(mode="json")


class Source(BaseModel):
    """A document a tool returned: its id, title and search score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    doc_id: str = Field(min_length=1)
    title: str
    score: float = 0.0


class StatusEvent(_BaseEvent):
    """What the agent is doing now, in a few words ("searching the knowledge base")."""

    type: Literal["status"] = "status"
    message: str


class ThoughtEvent(_BaseEvent):
    """A step of the agent's reasoning, shown to the user as it plans."""

    type: Literal["thought"] = "thought"
    text: str


class ToolCallEvent(_BaseEvent):
    """The agent calls a tool with these arguments."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResultEvent(_BaseEvent):
    """A tool answered the call ``call_id``; ``sources`` are the documents it returned."""

    type: Literal["tool_result"] = "tool_result"
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    sources: list[Source] = Field(default_factory=list)


class CitationEvent(_BaseEvent):
    """The answer relies on this document; it must be one a tool returned."""

    type: Literal["citation"] = "citation"
    doc_id: str = Field(min_length=1)
    title: str


class TokenEvent(_BaseEvent):
    """A piece of the answer text; the answer is all token texts joined."""

    type: Literal["token"] = "token"
    text: str


class CostEvent(_BaseEvent):
    """What the run consumed: tokens in and out, and their price in US dollars."""

    type: Literal["cost"] = "cost"
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    usd: float = Field(ge=0)

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


class DoneEvent(_BaseEvent):
    """The run finished normally; nothing follows."""

    type: Literal["done"] = "done"


class ErrorEvent(_BaseEvent):
    """The run failed; ``code`` names the kind of failure and nothing follows."""

    type: Literal["error"] = "error"
    code: str = Field(min_length=1, description="Machine-readable kind, e.g. 'model_error'.")
    message: str


Event = Annotated[
    StatusEvent
    | ThoughtEvent
    | ToolCallEvent
    | ToolResultEvent
    | CitationEvent
    | TokenEvent
    | CostEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
"""Any lab event; pydantic picks the class from its ``type``."""

EVENT_TYPES: tuple[str, ...] = (
    "status",
    "thought",
    "tool_call",
    "tool_result",
    "citation",
    "token",
    "cost",
    "done",
    "error",
)
TERMINAL_TYPES: frozenset[str] = frozenset({"done", "error"})

_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def from_json(data: str | bytes) -> Event:
    """Parse one event from JSON; raises ``pydantic.ValidationError`` naming the bad field."""
    return _adapter.validate_json(data)


def from_dict(data: dict[str, Any]) -> Event:
    """Build one event from a dict such as ``event.to_dict()`` returns."""
    return _adapter.validate_python(data)


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one event (a ``oneOf`` keyed by ``type``), for other languages and tools."""
    schema = _adapter.json_schema()
    schema["title"] = "LabEvent"
    # Round-trip through json so callers get plain, independent containers.
    result: dict[str, Any] = json.loads(json.dumps(schema))
    return result
