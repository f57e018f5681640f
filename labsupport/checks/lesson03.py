"""Checks for lesson 03 (live widgets)."""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from ._report import Check, attempt, exercise, fail, ok

__all__ = ["answer_html", "redraw_times", "reference_redraw_times"]


@exercise
def answer_html(func: Callable[[str, bool], Any], skeleton: str) -> Check:
    """Exercise 1: a skeleton until the first token, then the escaped text."""
    cases: list[tuple[str, bool, str, str]] = [
        (
            "",
            False,
            skeleton,
            "while nothing has arrived and the run is not finished, return the skeleton.",
        ),
        (
            "Dana Okafor",
            False,
            "Dana Okafor",
            "once there is text, return the text (escaped), not the skeleton.",
        ),
        (
            "Fees < 5 & refunds > 2",
            False,
            html.escape("Fees < 5 & refunds > 2"),
            "escape the text with html.escape(text): a '<' in a token must be shown, not parsed.",
        ),
        (
            "<script>alert(1)</script>",
            True,
            html.escape("<script>alert(1)</script>"),
            "escape the text with html.escape(text): model output is untrusted input.",
        ),
        (
            "",
            True,
            "",
            "a finished run with an empty answer shows nothing: a skeleton that never goes away "
            "tells the reader something is still coming.",
        ),
    ]
    for text, finished, expected, hint in cases:
        result = attempt(func, text, finished)
        call = f"answer_html({text!r}, finished={finished})"
        if result.error is not None:
            return fail(f"{call} raised {result.describe_error()}", hint)
        if result.value != expected:
            return fail(f"{call} returned {result.value!r}, expected {expected!r}.", hint)
    return ok("answer_html() shows a skeleton until the first token, then the text, escaped.")


def reference_redraw_times(event_times: Sequence[float], max_per_second: float) -> list[float]:
    """When a coalescing renderer redraws: at once if it may, else once at the next free slot.

    Example: events at [0, 0.01, 0.02] and 30/s -> [0, 0.0333...]: the first is
    drawn at once, the next two are folded into one redraw a 1/30 s later.
    """
    interval = 1.0 / max_per_second
    redraws: list[float] = []
    pending = False
    for t in event_times:
        if pending and t >= redraws[-1] + interval:
            redraws.append(redraws[-1] + interval)  # the trailing redraw came due before t
            pending = False
        if not redraws or t >= redraws[-1] + interval:
            redraws.append(t)
            pending = False
        else:
            pending = True
    if pending:
        redraws.append(redraws[-1] + interval)
    return redraws


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a, b, strict=True)
    )


def _redraw_hints(times: Sequence[float], got: Sequence[float]) -> tuple[str, str]:
    """A nudge and a stronger hint for the first rule a wrong schedule breaks."""
    if times and (not got or got[-1] < times[-1] - 1e-9):
        return (
            "rule 4: the last event is always drawn. What happens to an event that came too "
            "soon when no event comes after it?",
            "keep a flag `pending` that is True while a change waits to be drawn; after the "
            "loop, if it is still True, append `redraws[-1] + 1 / max_per_second`.",
        )
    if any(b - a < 1 / 30 - 1e-9 for a, b in itertools.pairwise(got)):
        return (
            "two redraws must be at least 1/max_per_second apart.",
            "draw at t only if `not redraws or t >= redraws[-1] + 1 / max_per_second`; "
            "otherwise do not draw, just set `pending = True`.",
        )
    if times and not math.isclose(got[0], times[0]):
        return (
            "draw the first event at once: the reader should see progress without delay.",
            "while `redraws` is empty, append the event's own time t.",
        )
    return (
        "an event that comes too soon is not lost: it makes one redraw at "
        "last_redraw + 1/max_per_second (if no event draws earlier).",
        "at the top of the loop, before looking at t: if a change is pending and "
        "`t >= redraws[-1] + 1 / max_per_second`, that redraw came due first, so append "
        "`redraws[-1] + 1 / max_per_second` and set `pending = False`.",
    )


@exercise
def redraw_times(func: Callable[[list[float], float], Any]) -> Check:
    """Exercise 2: the redraw schedule of a coalescing renderer."""
    flood = [i * 0.5 / 10_000 for i in range(10_000)]  # 10,000 tokens in half a second
    cases: list[tuple[str, list[float]]] = [
        ("no events", []),
        ("one event", [0.0]),
        ("three events far apart", [0.0, 0.1, 0.2]),
        ("a burst of three", [0.0, 0.01, 0.02]),
        ("10,000 tokens in 0.5 s", flood),
    ]
    for name, times in cases:
        expected = reference_redraw_times(times, 30)
        result = attempt(func, list(times), 30)
        if result.error is not None:
            return fail(
                f"redraw_times raised {result.describe_error()} for {name}.",
                "loop over the event times, remembering the time of the last redraw.",
                stronger="start with `redraws = []`; compare each t with `redraws[-1]` only "
                "when the list is not empty (the first event is always drawn).",
            )
        got = result.value
        if not isinstance(got, list) or not all(isinstance(t, (int, float)) for t in got):
            return fail(
                f"for {name} redraw_times returned {got!r}, not a list of times.",
                "collect the redraw times in a list and return it.",
                stronger="start with `redraws = []`, append each time the screen is redrawn, "
                "and end with `return redraws`.",
            )
        if _close(got, expected):
            continue
        shown = got if len(got) <= 6 else f"{len(got)} redraws"
        hint, stronger = _redraw_hints(times, got)
        return fail(
            f"for {name} you gave {shown}, expected {len(expected)} redraws.",
            hint,
            stronger=stronger,
        )
    return ok(
        "redraw_times() folds 10,000 tokens into "
        f"{len(reference_redraw_times(flood, 30))} redraws, and the last one shows the final state."
    )
