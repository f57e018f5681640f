"""Render a lab event stream in a terminal (or a notebook cell), flushing as each event arrives.

Progress lines come first, so the reader is never left in front of a blank
screen; then the answer, written token by token on its own line; then its
sources and cost::

      · thinking
      · plan: I will search the knowledge base for 'runs billing'.
      · searching the knowledge base
      → search_kb(query="runs billing", k=3)
      ← search_kb found D1, D3, D7
      · writing the answer
    The Payments team runs billing, ... [D1, D3]
      sources: [D1] Payments team · [D3] Dana Okafor
      cost: $0.0000985 for 137 tokens (107 prompt + 30 answer)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from .events import Event
from .prices import format_cost
from .runstate import RunState

__all__ = ["TerminalRenderer", "render"]


class TerminalRenderer:
    """Writes each event to ``file`` (stdout by default) as it arrives; ``state`` tracks the run."""

    def __init__(self, file: TextIO | None = None, *, show_steps: bool = True) -> None:
        self.file = file
        self.show_steps = show_steps
        self.state = RunState()
        self._in_answer = False

    def _out(self) -> TextIO:
        # Looked up at write time so a notebook's redirected stdout is honoured.
        return self.file if self.file is not None else sys.stdout

    def _line(self, text: str) -> None:
        out = self._out()
        if self._in_answer:
            out.write("\n")
            self._in_answer = False
        out.write(text + "\n")
        out.flush()

    def __call__(self, event: Event) -> None:
        """Render one event."""
        before = len(self.state.steps)
        self.state.apply(event)
        if event.type == "token":
            out = self._out()
            out.write(event.text)
            out.flush()
            self._in_answer = True
        elif len(self.state.steps) > before and self.show_steps:
            step = self.state.steps[-1]
            marker = {"status": "·", "thought": "· plan:", "tool_call": "→", "tool_result": "←"}
            self._line(f"  {marker[step.kind]} {step.text}")
        elif event.type == "cost":
            names = " · ".join(f"[{doc_id}] {title}" for doc_id, title in self.state.citations)
            self._line(f"  sources: {names or 'none'}")
            self._line(
                f"  cost: {format_cost(event.usd)} for {event.total_tokens} tokens "
                f"({event.prompt_tokens} prompt + {event.completion_tokens} answer)"
            )
        elif event.type == "error":
            self._line(f"  ✗ error ({event.code}): {event.message}")

    def cancelled(self) -> None:
        """Say that the consumer stopped the run: no further tokens, no cost, no done."""
        self.state.cancel()
        self._line(
            f"  ■ stopped after {self.state.token_count} tokens: no further tokens, no cost event, no done event"
        )

    def finish(self) -> None:
        """End the answer's line if one is open."""
        if self._in_answer:
            self._out().write("\n")
            self._out().flush()
            self._in_answer = False


def render(
    events: Iterable[Event], file: TextIO | None = None, *, show_steps: bool = True
) -> RunState:
    """Render a whole stream as it arrives and return its final state."""
    renderer = TerminalRenderer(file, show_steps=show_steps)
    for event in events:
        renderer(event)
    renderer.finish()
    return renderer.state
