"""The lifecycle contract every lab event stream keeps, and a validator that enforces it.

The rules, each with the name a violation reports:

``one-run``         every event carries the same ``run_id``.
``seq-gap-free``    ``seq`` is 0 for the first event and goes up by exactly one.
``one-terminal``    a finished run ends with exactly one terminal event, ``done`` or ``error``.
``after-terminal``  nothing comes after the terminal event.
``cancelled``       a run the consumer cancelled has no terminal event at all.
``cost-before-done`` a ``cost`` event comes before ``done``.
``tool-result-call`` a ``tool_result`` answers a ``tool_call`` seen earlier (same ``call_id``).
``citation-grounded`` a ``citation`` names a document that an earlier ``tool_result`` returned.

Use ``check_stream`` to get the list of violations, ``validate_stream`` to raise
on any, or ``LifecycleChecker`` to check events one by one as they arrive.

Example:
    >>> events = list(chat_stream("Who runs billing?", llm=MockLLM.instant()))
    >>> check_stream(events)
    []
    >>> check_stream(events[:-1])[0].message
    'the stream ended without a terminal event (done or error) and was not cancelled'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .events import TERMINAL_TYPES, Event, from_dict

__all__ = [
    "LifecycleChecker",
    "LifecycleError",
    "Violation",
    "check_stream",
    "checked",
    "validate_stream",
]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which rule, at which event (``index`` in the stream, ``None`` at the end)."""

    rule: str
    index: int | None
    message: str

    def __str__(self) -> str:
        where = "end of stream" if self.index is None else f"event #{self.index}"
        return f"{where}: {self.message} [{self.rule}]"


class LifecycleError(ValueError):
    """A stream broke the lifecycle contract; ``violations`` lists every broken rule."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"the stream broke {len(violations)} lifecycle rule(s):\n{lines}")


def _describe(event: Event) -> str:
    return f"{event.type} (seq {event.seq})"


class LifecycleChecker:
    """Checks events one at a time; ``feed`` each event, then call ``finish``.

    Useful on a live stream: a violation is reported at the event that causes it.
    """

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self._index = 0
        self._run_id: str | None = None
        self._terminal: Event | None = None
        self._seen_cost = False
        self._call_ids: set[str] = set()
        self._returned_docs: set[str] = set()

    def _flag(self, rule: str, message: str, index: int | None) -> Violation:
        violation = Violation(rule, index, message)
        self.violations.append(violation)
        return violation

    def feed(self, event: Event | dict[str, Any]) -> list[Violation]:
        """Check one more event; returns the violations it caused (also kept in ``violations``)."""
        ev = from_dict(event) if isinstance(event, dict) else event
        i, found = self._index, len(self.violations)
        self._index += 1
        what = _describe(ev)
        if self._run_id is None:
            self._run_id = ev.run_id
        elif ev.run_id != self._run_id:
            self._flag("one-run", f"{what} belongs to run {ev.run_id!r}, not {self._run_id!r}", i)
        if ev.seq != i:
            self._flag("seq-gap-free", f"{what} should have seq {i}", i)
        if self._terminal is not None:
            self._flag(
                "after-terminal",
                f"{what} comes after the terminal event {_describe(self._terminal)}",
                i,
            )
        if ev.type == "cost":
            self._seen_cost = True
        elif ev.type == "tool_call":
            self._call_ids.add(ev.call_id)
        elif ev.type == "tool_result":
            if ev.call_id not in self._call_ids:
                self._flag(
                    "tool-result-call",
                    f"{what} answers call {ev.call_id!r}, which was never made",
                    i,
                )
            self._returned_docs.update(s.doc_id for s in ev.sources)
        elif ev.type == "citation":
            if ev.doc_id not in self._returned_docs:
                returned = ", ".join(sorted(self._returned_docs)) or "none"
                self._flag(
                    "citation-grounded",
                    f"{what} cites {ev.doc_id}, which no earlier tool_result returned (returned: {returned})",
                    i,
                )
        elif ev.type == "done" and not self._seen_cost:
            self._flag("cost-before-done", f"{what} arrived before any cost event", i)
        if ev.type in TERMINAL_TYPES and self._terminal is None:
            self._terminal = ev
        return self.violations[found:]

    def finish(self, *, cancelled: bool = False) -> list[Violation]:
        """Close the check: ``cancelled`` says the consumer stopped the run. Returns all violations."""
        if cancelled and self._terminal is not None:
            self._flag(
                "cancelled",
                f"the run was cancelled by the consumer but has a terminal event {_describe(self._terminal)}",
                None,
            )
        elif not cancelled and self._terminal is None:
            self._flag(
                "one-terminal",
                "the stream ended without a terminal event (done or error) and was not cancelled",
                None,
            )
        return list(self.violations)


def check_stream(
    events: Iterable[Event | dict[str, Any]], *, cancelled: bool = False
) -> list[Violation]:
    """Every lifecycle violation in ``events`` (an empty list means the stream is valid)."""
    checker = LifecycleChecker()
    for event in events:
        checker.feed(event)
    return checker.finish(cancelled=cancelled)


def validate_stream(events: Iterable[Event | dict[str, Any]], *, cancelled: bool = False) -> None:
    """Raise ``LifecycleError`` listing every violation, or return quietly if the stream is valid."""
    violations = check_stream(events, cancelled=cancelled)
    if violations:
        raise LifecycleError(violations)


def checked(events: Iterable[Event]) -> Iterator[Event]:
    """Pass ``events`` through, raising ``LifecycleError`` at the first event that breaks a rule.

    Closing the returned generator closes ``events`` too, and counts as a
    cancellation, so it is not reported as a missing terminal event.
    """
    checker = LifecycleChecker()
    source = iter(events)
    try:
        for event in source:
            problems = checker.feed(event)
            if problems:
                raise LifecycleError(problems)
            yield event
        problems = checker.finish()
        if problems:
            raise LifecycleError(problems)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
