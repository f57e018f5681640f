"""The server's runs by id: found while they matter, forgotten after, counted throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from labsupport.events import DoneEvent, Event
from labsupport.live_run import RunLimits
from labsupport.run_errors import TooManyRuns, UnknownRun
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


async def never(run_id: str) -> AsyncIterator[Event]:
    await asyncio.Event().wait()
    yield DoneEvent(run_id=run_id, seq=0)


async def test_one_run_over_the_cap_is_refused_and_not_created() -> None:
    registry = RunRegistry(max_active_runs=2)
    for run_id in ("run_a", "run_b"):
        registry.new_run(run_id, "q", never(run_id), LabEncoder(), resumable=False)
    with pytest.raises(TooManyRuns, match=r"already has 2 active runs.*max_active_runs=\.\.\."):
        registry.new_run("run_c", "q", never("run_c"), LabEncoder(), resumable=False)
    assert registry.get("run_c") is None
    assert (registry.counters.active_runs, registry.counters.runs_refused) == (2, 1)


async def test_an_ended_run_frees_its_slot_even_when_kept_for_replay() -> None:
    registry = RunRegistry(max_active_runs=1)
    await finish(registry, "run_a", resumable=True)
    await finish(registry, "run_b", resumable=False)
    assert registry.get("run_a") is not None  # kept to replay, but no longer active
    assert (registry.counters.active_runs, registry.counters.runs_refused) == (0, 0)


async def test_a_cancelled_run_that_was_never_read_frees_its_slot() -> None:
    registry = RunRegistry(max_active_runs=1)
    run = registry.new_run("run_a", "q", never("run_a"), LabEncoder(), resumable=False)
    assert await run.cancel("cancelled", "on request")
    assert registry.counters.active_runs == 0
    registry.new_run("run_b", "q", never("run_b"), LabEncoder(), resumable=False)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "max_active_runs must be at least 1, got 0"),
        (True, TypeError, "max_active_runs must be an int, got True"),
        (2.5, TypeError, "max_active_runs must be an int, got 2.5"),
    ],
    ids=["zero", "bool", "float"],
)
def test_a_bad_cap_is_refused_with_its_value(value: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        RunRegistry(max_active_runs=value)  # type: ignore[arg-type]
