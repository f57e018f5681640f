"""Pacing on a schedule: sync and async drivers keep the same deadlines and always clean up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator

from labsupport._pacing import Pause, adrive, drive


def steps(log: list[str]) -> Generator[str | Pause, None, None]:
    try:
        for i in range(5):
            yield Pause(0.02)
            yield f"item{i}"
    finally:
        log.append("closed")


def test_sync_driver_yields_items_and_sleeps_the_pauses() -> None:
    log: list[str] = []
    start = time.monotonic()
    assert list(drive(steps(log))) == [f"item{i}" for i in range(5)]
    assert time.monotonic() - start >= 0.1
    assert log == ["closed"]


async def test_async_driver_yields_the_same_items() -> None:
    log: list[str] = []
    assert [x async for x in adrive(steps(log))] == [f"item{i}" for i in range(5)]
    assert log == ["closed"]


def test_a_slow_consumer_is_caught_up_rather_than_delayed_further() -> None:
    # 5 pauses of 20 ms are a 100 ms schedule; a consumer that spends 30 ms per item
    # should finish after about 150 ms, not 250 ms (pauses are not added on top of the lag).
    log: list[str] = []
    start = time.monotonic()
    for _ in drive(steps(log)):
        time.sleep(0.03)
    assert time.monotonic() - start < 0.22


def test_closing_the_driver_closes_the_steps() -> None:
    log: list[str] = []
    driver = drive(steps(log))
    next(driver)
    driver.close()
    assert log == ["closed"]


async def test_unpaced_async_stream_hands_the_loop_back() -> None:
    def burst() -> Generator[int | Pause, None, None]:
        yield from range(1000)

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    assert [x async for x in adrive(burst())] == list(range(1000))
    task.cancel()
    assert ticks >= 1000 // 16 - 1, "other tasks ran during an unpaced burst"
