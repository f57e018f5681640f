"""Checks for lesson 02 (the event vocabulary)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..events import (
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    Source,
    StatusEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from ._report import Check, attempt, fail, ok

__all__ = ["describe", "ends_once"]


def describe(func: Callable[[Event], Any]) -> Check:
    """Exercise 1: ``describe(event)`` gives the progress line for an event, or None."""
    cases: list[tuple[Event, str | None]] = [
        (StatusEvent(run_id="r", seq=0, message="thinking"), "· thinking"),
        (
            ToolCallEvent(
                run_id="r", seq=1, call_id="c1", name="search_kb", arguments={"query": "billing"}
            ),
            "→ search_kb {'query': 'billing'}",
        ),
        (
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
        ),
        (TokenEvent(run_id="r", seq=3, text=" billing"), None),
        (DoneEvent(run_id="r", seq=4), None),
    ]
    for event, expected in cases:
        result = attempt(func, event)
        if result.error is not None:
            return fail(
                f"describe() raised {result.describe_error()} on a {event.type} event.",
                "switch on event.type.",
            )
        if result.value != expected:
            return fail(
                f"describe() of a {event.type} event gave {result.value!r}, expected {expected!r}.",
                "tokens and everything not listed get None: the answer is written inline, not as a line.",
            )
    return ok(
        "describe() turns status and tool events into progress lines and leaves the answer to the tokens."
    )


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
