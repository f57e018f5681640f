"""Checks for lesson 08 (many workers: a run's events in Redis Streams, shared by every worker).

Both exercises are pure functions over a run's log, so the checks need no Redis:
they try the student's function on the cases a server meets (a reader that saw
nothing, one in the middle, one up to date, a log trimmed at its start, an id
from the future) and compare with what the kit's Redis store does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from ._report import Check, attempt, exercise, fail, ok

__all__ = ["expected_plan", "resume_plan", "resume_status"]

Entry = tuple[int, str]


def _log(first: int, last: int) -> list[Entry]:
    """A run's log as Redis keeps it: (seq, event) from ``first`` to ``last``, oldest first."""
    return [(seq, f"event {seq}") for seq in range(first, last + 1)]


# (what the case shows, last_seen, log)
_PLAN_CASES: list[tuple[str, int, list[Entry]]] = [
    ("a reader that got events 0 to 4 of 10", 4, _log(0, 9)),
    ("a reader that got nothing yet (last_seen=-1)", -1, _log(0, 9)),
    ("a reader that is up to date (it got event 9 of 10)", 9, _log(0, 9)),
    ("a run that has written nothing yet", -1, []),
    ("a log trimmed at its start (it keeps events 3 to 9; the reader got 0 to 5)", 5, _log(3, 9)),
]


def expected_plan(last_seen: int, log: list[Entry]) -> tuple[list[Entry], int]:
    """What to replay after ``last_seen``, and the seq after which the live tail starts."""
    replay = [entry for entry in log if entry[0] > last_seen]
    return replay, replay[-1][0] if replay else last_seen


def _plan_shape(value: object) -> str | None:
    """Why ``value`` is not a (replay list, tail seq) pair, or None."""
    if value is None:
        return "returned None"
    if not isinstance(value, tuple) or len(value) != 2:
        return f"returned {value!r}, not a pair (replay, tail_after)"
    replay, tail_after = value
    if not isinstance(replay, list):
        return f"returned a replay of type {type(replay).__name__}, not a list of entries"
    if isinstance(tail_after, bool) or not isinstance(tail_after, int):
        return f"returned tail_after={tail_after!r}, not a seq (an int)"
    return None


def _plan_problem(
    what: str, last_seen: int, log: list[Entry], replay: list[Any], tail_after: int
) -> tuple[str, str, str] | None:
    """What is wrong with this plan for this case: (problem, hint, stronger), or None."""
    right_replay, right_tail = expected_plan(last_seen, log)
    where = f"for {what}"
    seqs = [entry[0] if isinstance(entry, tuple) and entry else entry for entry in replay]
    if replay != right_replay:
        if last_seen in seqs:
            return (
                f"{where}, the replay starts with event {last_seen}, which the reader already has: "
                "it would show that event twice.",
                "replay the entries *after* last_seen.",
                "keep the entries whose seq is greater than last_seen (>, not >=).",
            )
        if log and log[0][0] > 0:
            return (
                f"{where}, you replayed the events {seqs}, the reader needs {[s for s, _ in right_replay]}.",
                "a trimmed log does not start at seq 0: a position in the list is not a seq.",
                "compare each entry's seq (entry[0]) with last_seen instead of slicing by position.",
            )
        return (
            f"{where}, you replayed the events {seqs}, the reader needs {[s for s, _ in right_replay]}.",
            "replay every entry of the log that comes after last_seen, in order, unchanged.",
            "[entry for entry in log if entry[0] > last_seen] is the replay.",
        )
    if tail_after == right_tail:
        return None
    if tail_after < right_tail:
        doubled = right_tail - max(tail_after, last_seen)
        return (
            f"{where}, the tail starts after seq {tail_after}, so the {doubled} event(s) "
            f"up to {right_tail} that you replayed would arrive a second time.",
            "the tail goes on from the last event the reader has once the replay is written.",
            "tail_after is the seq of the last replayed entry, or last_seen when there is none.",
        )
    return (
        f"{where}, the tail starts after seq {tail_after}, but the reader has nothing past "
        f"{right_tail}: the events in between would be lost.",
        "the tail goes on from the last event the reader has once the replay is written.",
        "tail_after is the seq of the last replayed entry, or last_seen when there is none.",
    )


@exercise
def resume_plan(func: Callable[[int, list[Entry]], Any]) -> Check:
    """Exercise 1: what a reconnecting reader gets replayed, and where its live tail starts."""
    for what, last_seen, log in _PLAN_CASES:
        result = attempt(func, last_seen, [*log])
        if result.error is not None:
            return fail(
                f"resume_plan({last_seen}, log) raised {result.describe_error()} for {what}.",
                "return a pair: the list of entries to replay, and a seq.",
            )
        shape = _plan_shape(result.value)
        if shape is not None:
            return fail(
                f"resume_plan() {shape} for {what}.",
                "return a pair: (the list of (seq, event) entries to replay, the seq to tail after).",
            )
        replay, tail_after = cast(tuple[list[Any], int], result.value)
        problem = _plan_problem(what, last_seen, log, replay, tail_after)
        if problem is not None:
            return fail(problem[0], problem[1], stronger=problem[2])
    return ok(
        "resume_plan() replays exactly what each reader missed and tails from the last event it "
        "has: nothing lost, nothing twice, even on a trimmed log."
    )


# (what the case shows, last_seen, first_kept, last_written, the status a worker answers)
_STATUS_CASES: list[tuple[str, int, int, int, int]] = [
    ("a reader that got events up to 11, in a log that keeps 0 to 39", 11, 0, 39, 200),
    ("a reader that is up to date (it got 39, the last one written)", 39, 0, 39, 200),
    ("a reader that got 11, in a log trimmed to 30 to 39", 11, 30, 39, 410),
    ("a reader that got 29, in a log trimmed to 30 to 39", 29, 30, 39, 200),
    ("a reader that got 28, in a log trimmed to 30 to 39", 28, 30, 39, 410),
    ("a reader that claims event 45 of a run that wrote up to 39", 45, 0, 39, 409),
    ("a reader that got nothing (last_seen=-1), in a log that keeps 0 to 39", -1, 0, 39, 200),
]

_STATUS_HINTS: dict[tuple[int, int], tuple[str, str]] = {
    (200, 410): (
        "the reader needs the events from last_seen + 1 on; are they all still in the log?",
        "410 only when first_kept > last_seen + 1: the log lost an event the reader never got.",
    ),
    (410, 200): (
        "a log trimmed at its start is fine as long as it still holds last_seen + 1.",
        "410 exactly when first_kept > last_seen + 1, the 'no longer keeps' case.",
    ),
    (409, 200): (
        "can a reader have seen an event that was never written?",
        "409 when last_seen > last_written: the id is not one this run sent.",
    ),
    (200, 409): (
        "a reader that has the last event written is up to date, not ahead of the run.",
        "409 only when last_seen > last_written (>, not >=).",
    ),
}


@exercise
def resume_status(func: Callable[[int, int, int], Any]) -> Check:
    """Exercise 2: the status a worker answers a resume with: 200, 409 (never sent) or 410 (trimmed)."""
    for what, last_seen, first_kept, last_written, status in _STATUS_CASES:
        call = f"resume_status({last_seen}, {first_kept}, {last_written})"
        result = attempt(func, last_seen, first_kept, last_written)
        if result.error is not None:
            return fail(f"{call} raised {result.describe_error()}.", "return one of 200, 409, 410.")
        got = result.value
        if got == status and not isinstance(got, bool):
            continue
        if got is None:
            return fail(f"{call} returned None.", "return one of 200, 409, 410.")
        if got == 404:
            return fail(
                f"{call} returned 404 for {what}.",
                "404 says the run is unknown; this one exists, in the log.",
                stronger="410 Gone: the run existed but what was asked for is no longer kept.",
            )
        if got not in (200, 409, 410) or isinstance(got, bool):
            return fail(f"{call} returned {got!r}.", "return one of the ints 200, 409, 410.")
        hint, stronger = _STATUS_HINTS.get(
            (status, got), ("compare last_seen with both ends of the log.", "")
        )
        return fail(
            f"{call} returned {got}, expected {status} for {what}.",
            hint,
            stronger=stronger or None,
        )
    return ok(
        "resume_status() answers like the kit's workers: 200 while the log holds every event "
        "the reader is missing, 410 once it was trimmed away, 409 for an id the run never sent."
    )
