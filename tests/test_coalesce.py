"""labsupport._coalesce: many pokes, few redraws, and the last change always drawn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from labsupport._coalesce import Coalescer


def _recorder() -> tuple[list[float], Coalescer]:
    loop = asyncio.get_running_loop()
    times: list[float] = []
    coalescer = Coalescer(lambda: times.append(loop.time()), max_per_second=20)
    return times, coalescer


async def test_first_poke_draws_at_once() -> None:
    times, coalescer = _recorder()
    coalescer.poke()
    assert len(times) == 1
    assert coalescer.redraws == 1
    assert not coalescer.pending


async def test_pokes_within_the_interval_fold_into_one_trailing_redraw() -> None:
    times, coalescer = _recorder()
    for _ in range(100):
        coalescer.poke()
    assert len(times) == 1 and coalescer.pending
    await asyncio.sleep(coalescer.interval * 2)
    assert len(times) == 2
    assert times[1] - times[0] >= coalescer.interval * 0.9
    assert not coalescer.pending


async def test_flush_draws_the_pending_change_now_and_cancels_the_timer() -> None:
    times, coalescer = _recorder()
    coalescer.poke()
    coalescer.poke()
    coalescer.flush()
    assert len(times) == 2
    await asyncio.sleep(coalescer.interval * 2)
    assert len(times) == 2  # the scheduled redraw was cancelled, nothing was left to draw


async def test_flush_without_pending_change_draws_nothing() -> None:
    times, coalescer = _recorder()
    coalescer.poke()
    coalescer.flush()
    assert len(times) == 1


async def test_settled_waits_for_the_scheduled_redraw() -> None:
    times, coalescer = _recorder()
    coalescer.poke()
    coalescer.poke()
    assert coalescer.pending and len(times) == 1
    await asyncio.wait_for(coalescer.settled(), 1.0)
    assert len(times) == 2 and not coalescer.pending
    await asyncio.wait_for(coalescer.settled(), 1.0)  # nothing scheduled: returns at once


async def test_a_one_second_flood_is_drawn_at_most_rate_plus_one_times() -> None:
    times, coalescer = _recorder()
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.0
    pokes = 0
    while loop.time() < end:
        for _ in range(50):
            coalescer.poke()
            pokes += 1
        await asyncio.sleep(0)
    coalescer.flush()
    await coalescer.settled()
    assert pokes > 10_000
    assert 15 <= len(times) <= 21  # 20/s, plus the final flush
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 20


@pytest.mark.parametrize("bad", [0, -5, float("inf"), float("nan"), True, "30"])
async def test_bad_rate_is_rejected_with_its_value(bad: object) -> None:
    with pytest.raises(ValueError, match="max_per_second"):
        Coalescer(lambda: None, max_per_second=bad)  # type: ignore[arg-type]


# -- the window rule, on a clock the test sets ---------------------------------------------


class _Clock:
    """Just enough of an event loop for a Coalescer: a clock we move, timers we fire."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[_Timer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(when, callback, self.timers)
        self.timers.append(timer)
        return timer

    def advance(self, to: float) -> None:
        """Fire the timers due by ``to``, in order, then set the clock to ``to``."""
        while due := [t for t in self.timers if t.when <= to]:
            timer = min(due, key=lambda t: t.when)
            self.timers.remove(timer)
            self.now = timer.when
            timer.callback()
        self.now = to


class _Timer:
    def __init__(self, when: float, callback: Callable[[], None], timers: list[_Timer]) -> None:
        self.when, self.callback, self.timers = when, callback, timers

    def cancel(self) -> None:
        if self in self.timers:
            self.timers.remove(self)


def _on_clock(rate: float) -> tuple[_Clock, list[float], Coalescer]:
    clock = _Clock()
    drawn: list[float] = []
    coalescer = Coalescer(lambda: drawn.append(clock.now), max_per_second=rate, loop=clock)  # type: ignore[arg-type]
    return clock, drawn, coalescer


def test_flush_skips_the_spacing_while_the_window_has_room() -> None:
    clock, drawn, coalescer = _on_clock(30)
    coalescer.poke()
    clock.advance(0.01)
    coalescer.poke()
    coalescer.flush()
    assert drawn == [0.0, 0.01]  # 10 ms apart: the final state is not held back


def test_flush_in_a_full_window_waits_until_the_oldest_redraw_leaves_it() -> None:
    clock, drawn, coalescer = _on_clock(30)
    for i in range(300):  # 3 s of a steady flood, one change every 10 ms
        clock.advance(i * 0.01)
        coalescer.poke()
    clock.advance(2.995)
    coalescer.flush()
    assert coalescer.pending  # 30 redraws in the last second: no room for a 31st yet
    last_second = [t for t in drawn if t > 2.995 - 1.0]
    assert len(last_second) == 30
    clock.advance(4.0)
    assert not coalescer.pending
    assert drawn[-1] == pytest.approx(last_second[0] + 1.0)
    assert max(sum(1 for t in drawn if s <= t < s + 1.0) for s in drawn) == 30


def test_a_rate_below_one_per_second_keeps_one_redraw_per_interval() -> None:
    clock, drawn, coalescer = _on_clock(0.5)
    coalescer.poke()
    clock.advance(1.0)
    coalescer.poke()
    coalescer.flush()  # the window is two seconds long and already holds a redraw
    clock.advance(5.0)
    assert drawn == [0.0, 2.0]


def test_a_producer_that_never_yields_is_still_drawn_on_time() -> None:
    clock, drawn, coalescer = _on_clock(30)
    for i in range(1000):  # the timers never get a turn: no clock.advance
        clock.now = i * 0.0001
        coalescer.poke()
    assert len(drawn) == 3  # at 0, then at the first poke past 1/30 and past 2/30
    assert drawn[1] - drawn[0] >= 1 / 30 and drawn[1] - drawn[0] < 1 / 30 + 0.004
