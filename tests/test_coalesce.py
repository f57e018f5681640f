"""labsupport._coalesce: many pokes, few redraws, and the last change always drawn."""

from __future__ import annotations

import asyncio

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
    assert pokes > 10_000
    assert 15 <= len(times) <= 22  # 20/s, plus the final flush


@pytest.mark.parametrize("bad", [0, -5, float("inf"), float("nan"), True, "30"])
async def test_bad_rate_is_rejected_with_its_value(bad: object) -> None:
    with pytest.raises(ValueError, match="max_per_second"):
        Coalescer(lambda: None, max_per_second=bad)  # type: ignore[arg-type]
