"""A run apart from its connection: it buffers, waits for a slow reader, stops when cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from labsupport.events import DoneEvent, Event, TokenEvent
from labsupport.live_run import Run, RunCounters, RunLimits, stop_agent
from labsupport.run_buffer import READ_AHEAD
from labsupport.run_errors import RunConflict, RunGone
from labsupport.sse import LabEncoder


async def tokens(n: int, closed: list[bool] | None = None) -> AsyncIterator[Event]:
    try:
        for seq in range(n):
            yield TokenEvent(run_id="run_t", seq=seq, text=f"t{seq}")
            await asyncio.sleep(0)
        yield DoneEvent(run_id="run_t", seq=n)
    finally:
        if closed is not None:
            closed.append(True)


async def read_all(run: Run) -> bytes:
    written: list[bytes] = []

    async def send(body: bytes) -> None:
        written.append(body)

    reader = run.attach(0)
    finished = await run.pump(reader, send, b": k\n\n", 5.0)
    await run.detach(reader, finished=finished)
    assert finished
    return b"".join(written)


async def test_a_run_writes_every_event_in_order_and_counts_its_outcome() -> None:
    settled: list[Run] = []
    run = Run("run_t", "q", tokens(3), LabEncoder(), resumable=False, on_settled=settled.append)
    body = await read_all(run)
    assert body.count(b"event: token") == 3 and body.endswith(b"id: run_t:3\n\n")
    assert run.outcome == "completed"
    assert (run.counters.runs_started, run.counters.runs_completed) == (1, 1)
    assert settled == [run]


async def test_the_run_waits_for_a_reader_that_falls_behind() -> None:
    run = Run("run_t", "q", tokens(READ_AHEAD * 3), LabEncoder(), resumable=False)
    run.attach(0)
    for _ in range(READ_AHEAD * 4):
        await asyncio.sleep(0)
    assert run.produced == READ_AHEAD
    await run.cancel("cancelled", "test over")


async def test_cancel_closes_the_agent_and_ends_with_an_error_event() -> None:
    closed: list[bool] = []
    counters = RunCounters()
    run = Run(
        "run_t", "q", tokens(10_000, closed), LabEncoder(), resumable=False, counters=counters
    )
    run.attach(0)
    await asyncio.sleep(0)
    assert await run.cancel("cancelled", "stop") is True
    assert closed == [True]
    assert run.outcome == "cancelled" and counters.runs_cancelled == 1
    assert await run.cancel("cancelled", "again") is False


async def test_resume_cursor_refuses_the_future_and_the_forgotten() -> None:
    run = Run(
        "run_t", "q", tokens(600), LabEncoder(), resumable=True, limits=RunLimits(replay_events=1)
    )
    await read_all(run)
    with pytest.raises(RunConflict, match="has sent events up to seq 600 only"):
        run.resume_cursor(700)
    with pytest.raises(RunGone, match="no longer keeps the events after seq 0"):
        run.resume_cursor(0)
    assert run.resume_cursor(600) == 601


def test_stop_agent_runs_the_agents_finally_even_when_its_caller_is_cancelled() -> None:
    closed: list[str] = []

    async def agent() -> AsyncIterator[Event]:
        try:
            yield TokenEvent(run_id="r", seq=0, text="a")
            await asyncio.sleep(10)
            yield TokenEvent(run_id="r", seq=1, text="b")
        finally:
            await asyncio.sleep(0.01)  # the model's connection takes a moment to close
            closed.append("closed")

    async def main() -> None:
        events = agent()
        assert (await anext(events)).seq == 0
        stopping = asyncio.create_task(stop_agent(events))
        await asyncio.sleep(0)
        stopping.cancel()  # the caller gives up; the agent is closed all the same
        with pytest.raises(asyncio.CancelledError):
            await stopping
        await asyncio.sleep(0.05)
        assert closed == ["closed"]

    asyncio.run(main())
