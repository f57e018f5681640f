"""Lesson 03's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest

from labsupport._coalesce import Coalescer
from labsupport.checks import exercise, lesson03
from labsupport.checks.lesson03 import reference_redraw_times

SKELETON = "<div class='skeleton'></div>"


def good_answer_html(text: str, finished: bool) -> str:
    return SKELETON if not text and not finished else html.escape(text)


def unescaped_answer_html(text: str, finished: bool) -> str:
    return SKELETON if not text and not finished else text


def skeleton_forever(text: str, finished: bool) -> str:
    return SKELETON if not text else html.escape(text)


def test_answer_html_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson03.answer_html(good_answer_html, SKELETON)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (unescaped_answer_html, "html.escape"),
        (skeleton_forever, "a skeleton that never goes away"),
        (lambda text, finished: None, "return the skeleton"),
        (lambda text, finished: 1 / 0, "ZeroDivisionError"),
    ],
    ids=["unescaped", "skeleton-forever", "unfinished", "raises"],
)
def test_answer_html_hints_at_the_mistake(
    func: object, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson03.answer_html(func, SKELETON)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:") and hint in out


def test_reference_schedule_matches_the_examples() -> None:
    assert reference_redraw_times([], 30) == []
    assert reference_redraw_times([0.0, 0.1, 0.2], 30) == [0.0, 0.1, 0.2]
    got = reference_redraw_times([0.0, 0.01, 0.02, 0.5], 30)
    assert got == pytest.approx([0.0, 1 / 30, 0.5])


class _FakeLoop:
    """Just enough of an event loop for a Coalescer: a clock we set, timers we fire."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Handle:
        entry = (when, callback)
        self.timers.append(entry)
        return _Handle(self.timers, entry)

    def advance(self, to: float) -> None:
        """Fire the timers due by ``to`` in order, then set the clock to ``to``."""
        while self.timers and min(self.timers, key=lambda e: e[0])[0] <= to:
            entry = min(self.timers, key=lambda e: e[0])
            self.timers.remove(entry)
            self.now = entry[0]
            entry[1]()
        self.now = to


class _Handle:
    def __init__(
        self,
        timers: list[tuple[float, Callable[[], None]]],
        entry: tuple[float, Callable[[], None]],
    ) -> None:
        self.timers, self.entry = timers, entry

    def cancel(self) -> None:
        if self.entry in self.timers:
            self.timers.remove(self.entry)


def test_the_lesson_rules_are_what_the_views_coalescer_does() -> None:
    loop = _FakeLoop()
    drawn: list[float] = []
    coalescer = Coalescer(lambda: drawn.append(loop.now), max_per_second=30, loop=loop)  # type: ignore[arg-type]
    events = [0.0, 0.01, 0.02, 0.05, 0.06, 0.5, 0.51]
    for t in events:
        loop.advance(t)
        coalescer.poke()
    loop.advance(10.0)
    assert drawn == pytest.approx(reference_redraw_times(events, 30))


def test_redraw_times_passes_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson03.redraw_times(reference_redraw_times)
    assert "16 redraws" in capsys.readouterr().out


def every_event(times: list[float], rate: float) -> list[float]:
    return list(times)


def leading_only(times: list[float], rate: float) -> list[float]:
    out: list[float] = []
    for t in times:
        if not out or t - out[-1] >= 1 / rate:
            out.append(t)
    return out


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (every_event, "at least 1/max_per_second apart"),
        (leading_only, "the last event is always drawn"),
        (lambda times, rate: None, "collect the redraw times in a list"),
    ],
    ids=["every-event", "leading-only", "unfinished"],
)
def test_redraw_times_hints_at_the_mistake(
    func: object, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson03.redraw_times(func)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:") and hint in out


def late_trailing_redraw(times: list[float], rate: float) -> list[float]:
    """Forgets that a pending redraw comes due before a later event: draws it only at the end."""
    out: list[float] = []
    pending = False
    for t in times:
        if not out or t - out[-1] >= 1 / rate:
            out.append(t)
        else:
            pending = True
    if pending:
        out.append(out[-1] + 1 / rate)
    return out


@pytest.mark.parametrize(
    ("func", "nudge", "stronger"),
    [
        (every_event, "at least 1/max_per_second apart", "just set `pending = True`"),
        (leading_only, "the last event is always drawn", "keep a flag `pending`"),
        (late_trailing_redraw, "is not lost", "that redraw came due first"),
        (lambda times, rate: None, "collect the redraw times", "end with `return redraws`"),
        (lambda times, rate: times[-1], "remembering the time of the last redraw", "redraws = []"),
    ],
    ids=["every-event", "leading-only", "late-trailing", "unfinished", "raises"],
)
def test_redraw_times_nudges_first_then_helps_more(
    func: object, nudge: str, stronger: str, capsys: pytest.CaptureFixture[str]
) -> None:
    check = exercise(lesson03.redraw_times.__wrapped__)  # a count of attempts of its own
    assert not check(func)
    first = capsys.readouterr().out
    assert nudge in first and "Still stuck?" not in first
    assert not check(func)
    second = capsys.readouterr().out
    assert nudge in second
    assert second.count("Still stuck?") == 1 and stronger in second.split("Still stuck?")[1]
