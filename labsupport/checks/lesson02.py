"""Checks for lesson 02 (the event vocabulary)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    Source,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from ._report import Check, attempt, exercise, fail, ok

__all__ = ["describe", "ends_once"]


@dataclass(frozen=True, slots=True)
class _Case:
    """One event ``describe`` is tried on, what it should give, and help for that kind of event."""

    event: Event
    expected: str | None
    hint: str
    stronger: str


_NONE_STRONGER = (
    "handle status, tool_call and tool_result with one `if event.type == ...:` each, "
    "then end the function with `return None` for every other type."
)

_DESCRIBE_CASES: list[_Case] = [
    _Case(
        StatusEvent(run_id="r", seq=0, message="thinking"),
        "· thinking",
        "a status line is a middle dot and a space, then the event's message.",
        'if event.type == "status": return "· " + event.message',
    ),
    _Case(
        ToolCallEvent(
            run_id="r", seq=1, call_id="c1", name="search_kb", arguments={"query": "billing"}
        ),
        "→ search_kb {'query': 'billing'}",
        "a tool call line is an arrow, the tool's name, a space, then the arguments dict as "
        "Python prints it.",
        'if event.type == "tool_call": return f"→ {event.name} {event.arguments}"',
    ),
    _Case(
        ToolResultEvent(
            run_id="r",
            seq=2,
            call_id="c1",
            name="search_kb",
            sources=[
                Source(doc_id="D1", title="Payments team"),
                Source(doc_id="D7", title="Billing cycle"),
            ],
        ),
        "← search_kb: D1, D7",
        "a tool result line lists the ids of event.sources (each source has a doc_id), "
        "not the sources themselves.",
        '", ".join(source.doc_id for source in event.sources) gives "D1, D7".',
    ),
    _Case(
        TokenEvent(run_id="r", seq=3, text=" billing"),
        None,
        "a token gets no line: the renderer writes tokens inline, as the answer grows.",
        _NONE_STRONGER,
    ),
    _Case(
        ThoughtEvent(run_id="r", seq=4, text="I will search the knowledge base."),
        None,
        "a thought is not in the table, so it gets None: only status and tool events make lines.",
        _NONE_STRONGER,
    ),
    _Case(
        CitationEvent(run_id="r", seq=5, doc_id="D1", title="Payments team"),
        None,
        "a citation gets None: the sources are listed once, after the answer, not as progress.",
        _NONE_STRONGER,
    ),
    _Case(
        DoneEvent(run_id="r", seq=6),
        None,
        "done gets None: the end of the run is not a step of progress.",
        _NONE_STRONGER,
    ),
]


@exercise
def describe(func: Callable[[Event], Any]) -> Check:
    """Exercise 1: ``describe(event)`` gives the progress line for an event, or None.

    When several kinds of event come out wrong, the verdict is about the first
    one, with the hint for that kind, and says how many other kinds are wrong.
    """
    wrong: list[tuple[_Case, str, str]] = []  # the case, what went wrong, the hint
    for case in _DESCRIBE_CASES:
        event = case.event
        result = attempt(func, event)
        if result.error is not None:
            problem = f"describe() raised {result.describe_error()} on a {event.type} event."
            hint = case.hint
            if case.expected is None:
                hint = f"check event.type before reading a field: a {event.type} event has its own fields. {hint}"
            wrong.append((case, problem, hint))
        elif result.value != case.expected:
            problem = (
                f"describe() of a {event.type} event gave {result.value!r}, "
                f"expected {case.expected!r}."
            )
            wrong.append((case, problem, case.hint))
    if wrong:
        case, problem, hint = wrong[0]
        others = len({c.event.type for c, _, _ in wrong[1:]})
        if others:
            problem += f" ({others} other kind{'s' if others > 1 else ''} of event wrong too.)"
        return fail(problem, hint, stronger=case.stronger)
    return ok(
        "describe() turns status and tool events into progress lines and leaves the answer to the tokens."
    )


@exercise
def ends_once(func: Callable[[list[Event]], Any]) -> Check:
    """Exercise 2: ``ends_once(events)`` is True when there is one terminal event and it is last."""

    def run(*tail: Event) -> list[Event]:
        return [StatusEvent(run_id="r", seq=0, message="thinking"), *tail]

    cost = CostEvent(run_id="r", seq=2, prompt_tokens=3, completion_tokens=1, usd=0.0)
    cases: list[tuple[str, Iterable[Event], bool]] = [
        (
            "a run ending in done",
            run(TokenEvent(run_id="r", seq=1, text="hi"), cost, DoneEvent(run_id="r", seq=3)),
            True,
        ),
        (
            "a run ending in error",
            run(ErrorEvent(run_id="r", seq=1, code="model_error", message="boom")),
            True,
        ),
        ("a run with no terminal event", run(TokenEvent(run_id="r", seq=1, text="hi")), False),
        (
            "a token after done",
            run(DoneEvent(run_id="r", seq=1), TokenEvent(run_id="r", seq=2, text="late")),
            False,
        ),
        (
            "done twice",
            run(DoneEvent(run_id="r", seq=1), DoneEvent(run_id="r", seq=2)),
            False,
        ),
        (
            "an error after done",
            run(DoneEvent(run_id="r", seq=1), ErrorEvent(run_id="r", seq=2, code="x", message="y")),
            False,
        ),
    ]
    for label, events, expected in cases:
        result = attempt(func, list(events))
        if result.error is not None:
            return fail(
                f"ends_once() raised {result.describe_error()} on {label}.",
                "count the terminal events first.",
            )
        if bool(result.value) is not expected or not isinstance(result.value, bool):
            return fail(
                f"ends_once() on {label} gave {result.value!r}, expected {expected}.",
                "a valid run has exactly one event whose type is 'done' or 'error', and it is the last one.",
            )
    return ok("ends_once() accepts exactly one terminal event at the end, and rejects the rest.")
