"""What a user interface knows about a run, folded from its events.

Every renderer needs the same bookkeeping: the current status line, the steps
taken so far, the answer as it grows, the sources, the cost and how the run
ended. ``RunState`` does it once, with no I/O, so it is easy to test and any
front end (terminal, widget, web page) only has to draw it.

Example:
    >>> state = RunState()
    >>> for event in chat_stream("Who runs billing?", llm=MockLLM.instant()):
    ...     state.apply(event)
    >>> state.outcome, state.citation_ids
    ('finished', ['D1', 'D3'])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from .events import CostEvent, ErrorEvent, Event, TokenEvent

__all__ = ["Outcome", "RunState", "Step"]

Outcome = Literal["waiting", "running", "finished", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the agent's visible work: a status, a thought, a tool call or its result."""

    kind: Literal["status", "thought", "tool_call", "tool_result"]
    text: str


def _arguments(arguments: dict[str, object]) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())


@dataclass
class RunState:
    """The state of one run as seen by its consumer; feed it events with ``apply``."""

    run_id: str | None = None
    status: str = "waiting"
    steps: list[Step] = field(default_factory=list)
    token_count: int = 0
    citations: list[tuple[str, str]] = field(default_factory=list)
    cost: CostEvent | None = None
    error: ErrorEvent | None = None
    outcome: Outcome = "waiting"
    event_count: int = 0
    # Joined on demand: += on an attribute copies the whole answer for every token.
    _parts: list[str] = field(default_factory=list, repr=False)

    @property
    def answer(self) -> str:
        """The answer text received so far."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def citation_ids(self) -> list[str]:
        """The cited document ids, in order."""
        return [doc_id for doc_id, _ in self.citations]

    @property
    def ended(self) -> bool:
        """True once the run finished, failed or was cancelled."""
        return self.outcome in ("finished", "error", "cancelled")

    def apply(self, event: Event) -> None:
        """Update the state with the next event of the run."""
        if type(event) is TokenEvent and self.outcome == "running":
            # Most events of a run, thousands a second: the shortest path that keeps every
            # field as the general one below would leave it.
            self.run_id = event.run_id
            self.event_count += 1
            self._parts.append(event.text)
            self.token_count += 1
            return
        if self.ended:
            raise ValueError(
                f"the run already ended ({self.outcome}); got {event.type} seq {event.seq}"
            )
        self.run_id = event.run_id
        self.event_count += 1
        self.outcome = "running"
        if event.type == "token":  # a run that opens with a token
            self._parts.append(event.text)
            self.token_count += 1
        elif event.type == "status":
            self.status = event.message
            self.steps.append(Step("status", event.message))
        elif event.type == "thought":
            self.steps.append(Step("thought", event.text))
        elif event.type == "tool_call":
            self.steps.append(Step("tool_call", f"{event.name}({_arguments(event.arguments)})"))
        elif event.type == "tool_result":
            found = ", ".join(s.doc_id for s in event.sources) or "nothing"
            self.steps.append(Step("tool_result", f"{event.name} found {found}"))
        elif event.type == "citation":
            self.citations.append((event.doc_id, event.title))
        elif event.type == "cost":
            self.cost = event
        elif event.type == "done":
            self.status = "done"
            self.outcome = "finished"
        elif event.type == "error":
            self.status = "error"
            self.error = event
            self.outcome = "error"

    def cancel(self) -> None:
        """Mark the run as stopped by its consumer (no-op once it ended)."""
        if not self.ended:
            self.status = "stopped"
            self.outcome = "cancelled"
