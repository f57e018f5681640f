"""The server's runs by id: found while they matter, forgotten after, counted throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from labsupport.events import DoneEvent, Event
from labsupport.live_run import RunLimits
from labsupport.run_errors import UnknownRun
from labsupport.run_registry import RunRegistry
from labsupport.sse import LabEncoder


async def done(run_id: str) -> AsyncIterator[Event]:
    yield DoneEvent(run_id=run_id, seq=0)


async def finish(registry: RunRegistry, run_id: str, *, resumable: bool) -> None:
    run = registry.new_run(run_id, "q", done(run_id), LabEncoder(), resumable=resumable)

    async def send(body: bytes) -> None:
        pass

    reader = run.attach(0)
    await run.detach(reader, finished=await run.pump(reader, send, b"", 1.0))


async def test_an_ended_run_is_forgotten_at_once_unless_resumable() -> None:
    registry = RunRegistry(replay_seconds=0.05)
    await finish(registry, "run_a", resumable=False)
    await finish(registry, "run_b", resumable=True)
    assert registry.get("run_a") is None
    assert registry.lookup("run_b").outcome == "completed"
    await asyncio.sleep(0.1)
    with pytest.raises(UnknownRun, match="run run_b is unknown here"):
        registry.lookup("run_b")
    assert registry.counters.runs_completed == 2


async def test_streams_and_cancel_requests_are_counted_through_the_registry() -> None:
    registry = RunRegistry(limits=RunLimits(grace=1.0))
    registry.stream_opened(resumed=True)
    registry.stream_opened(resumed=False)
    registry.stream_closed()
    registry.cancel_requested()
    counters = registry.counters
    assert (counters.active_streams, counters.runs_resumed, counters.cancel_requests) == (1, 1, 1)


async def test_cancel_all_ends_every_running_run() -> None:
    registry = RunRegistry()

    async def forever(run_id: str) -> AsyncIterator[Event]:
        await asyncio.Event().wait()
        yield DoneEvent(run_id=run_id, seq=0)

    runs = [
        registry.new_run(f"run_{i}", "q", forever(f"run_{i}"), LabEncoder(), resumable=False)
        for i in range(2)
    ]
    for run in runs:
        run.start()
    registry.cancel_all("server_shutdown", "bye")
    for _ in range(20):
        await asyncio.sleep(0)
    assert [run.outcome for run in runs] == ["cancelled", "cancelled"]
    assert registry.running() == []
