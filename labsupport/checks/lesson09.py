"""Checks for lesson 09 (appendix: a run on a time axis)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..events import DoneEvent, Event, StatusEvent, TokenEvent, ToolCallEvent
from ..timeline import Mark
from ._report import Check, attempt, exercise, fail, ok

__all__ = ["time_to_first_token", "tokens_per_second"]


def _marks(token_times: list[float], *, start: float = 0.0) -> list[Mark]:
    """A small recorded run: a status, a tool call, tokens at ``token_times``, done."""
    events: list[tuple[float, Event]] = [
        (start, StatusEvent(run_id="r", seq=0, message="thinking")),
        (
            start + 0.01,
            ToolCallEvent(run_id="r", seq=1, call_id="c1", name="search_kb", arguments={}),
        ),
    ]
    for i, t in enumerate(token_times):
        events.append((t, TokenEvent(run_id="r", seq=2 + i, text=f" w{i}")))
    end = (token_times[-1] if token_times else start) + 0.05
    events.append((end, DoneEvent(run_id="r", seq=2 + len(token_times))))
    return [Mark(t, e) for t, e in events]


def _close(value: object, expected: float) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isclose(value, expected, abs_tol=1e-9)
    )


@exercise
def time_to_first_token(func: Callable[[list[Mark]], Any]) -> Check:
    """Exercise 1: ``time_to_first_token(marks)`` is the seconds of the first token, or None."""
    marks = _marks([0.8, 0.84, 0.88])
    result = attempt(func, marks)
    if result.error is not None:
        return fail(
            f"time_to_first_token(marks) raised {result.describe_error()}",
            "loop over the marks: each one is (seconds, event).",
        )
    if _close(result.value, 0.01) or _close(result.value, 0.0):
        return fail(
            f"it returned {result.value!r}: that is when a status or tool event arrived.",
            "look for the first mark whose event.type is 'token'.",
        )
    if _close(result.value, 0.88) or _close(result.value, 0.93):
        return fail(
            f"it returned {result.value!r}: that is the last token (or the end), not the first.",
            "return as soon as you meet the first token.",
        )
    if not _close(result.value, 0.8):
        return fail(
            f"for tokens at 0.8, 0.84 and 0.88 s it returned {result.value!r}, expected 0.8.",
            "return mark.seconds (or the first item of the pair) of the first token mark.",
        )
    empty = attempt(func, _marks([]))
    if empty.error is not None or empty.value is not None:
        shown = empty.describe_error() if empty.error is not None else repr(empty.value)
        return fail(
            f"for a run without tokens it gave {shown}, expected None.",
            "after the loop, return None: there was no first token.",
        )
    return ok("time_to_first_token() finds the first token's arrival, and None when there is none.")


@exercise
def tokens_per_second(func: Callable[[list[Mark]], Any]) -> Check:
    """Exercise 2: tokens after the first, divided by the seconds from first to last token."""
    marks = _marks([1.0 + 0.04 * i for i in range(11)])  # 10 gaps of 0.04 s: 25 tokens/s
    result = attempt(func, marks)
    if result.error is not None:
        return fail(
            f"tokens_per_second(marks) raised {result.describe_error()}",
            "collect the seconds of the token marks in a list first.",
        )
    if _close(result.value, 11 / 0.4):
        return fail(
            "it returned 27.5: 11 tokens over 0.4 s counts one token too many.",
            "the clock starts at the first token, so the first token is not part of the rate.",
            stronger="count the gaps between tokens: 11 tokens make 10 gaps.",
        )
    if _close(result.value, 10 / 1.45) or _close(result.value, 11 / 1.45):
        return fail(
            f"it returned {result.value!r}: that divides by the whole run, waiting included.",
            "the rate is measured while the model writes: the wait before the first token "
            "does not count.",
            stronger="divide by the seconds from the first token to the last one.",
        )
    if not _close(result.value, 25.0):
        return fail(
            f"for 11 tokens 0.04 s apart it returned {result.value!r}, expected 25.0.",
            "reread the two numbers the exercise names: which tokens are counted, and over "
            "which stretch of time?",
            stronger="work it by hand first: tokens at 1.0, 1.5 and 2.0 s are 2 tokens after "
            "the first, in 1.0 s, so 2.0 tokens per second.",
        )
    one = attempt(func, _marks([0.5]))
    if one.error is not None or one.value is not None:
        shown = one.describe_error() if one.error is not None else repr(one.value)
        return fail(
            f"for a run with a single token it gave {shown}, expected None.",
            "with fewer than two tokens there is no rate: return None before dividing.",
        )
    return ok("tokens_per_second() measures the writing rate from the first to the last token.")
