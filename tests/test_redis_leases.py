"""The runs one worker drives: leases kept alive while they run, unread runs parked then expired.

Against a real ``redis-server`` (skipped outside CI without one), with a slow
agent so the run outlives several leases.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from labsupport.events import DoneEvent, Event, TokenEvent
from labsupport.live_run import RunCounters
from labsupport.redis_leases import WorkerRuns
from labsupport.redis_log import NewRun, RunLog
from labsupport.redis_run import RedisRun
from labsupport.redis_server import RedisServer
from labsupport.sse import LabEncoder
from tests.support.redis_server import redis_server

LEASE_MS = 300


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from redis_server("test_redis_leases")


async def _slow_agent(run_id: str, seconds: float) -> AsyncIterator[Event]:
    yield TokenEvent(run_id=run_id, seq=0, text="a")
    await asyncio.sleep(seconds)
    yield DoneEvent(run_id=run_id, seq=1)


async def _started(log: RunLog, counters: RunCounters, seconds: float) -> RedisRun:
    run_id = f"run_{uuid.uuid4().hex[:12]}"
    counters.active_runs += 1
    run = RedisRun(
        run_id,
        "q",
        _slow_agent(run_id, seconds),
        LabEncoder(),
        resumable=True,
        log=log,
        counters=counters,
        new=NewRun("q", resumable=True, lease_ms=LEASE_MS, reader="r"),
    )
    await run.start()
    return run


class _Worker:
    """One worker's runs over ``client``; the tasks they spawn are kept to be awaited."""

    def __init__(self, client: Redis, grace: float) -> None:
        self.log = RunLog(client, prefix="t:", max_events=100, keep_ms=60_000)
        self.counters = RunCounters()
        self.tasks: list[asyncio.Task[Any]] = []
        self.here = WorkerRuns(
            self.log, self.counters, lease_ms=LEASE_MS, grace=grace, spawn=self.spawn
        )

    def spawn(self, work: Coroutine[Any, Any, object]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(work))


def test_a_running_run_keeps_its_lease_and_loses_it_when_renewal_stops(redis: RedisServer) -> None:
    async def scenario() -> None:
        client = Redis.from_url(redis.url)
        worker = _Worker(client, grace=60.0)
        log, counters, here, tasks = worker.log, worker.counters, worker.here, worker.tasks
        run = await _started(log, counters, seconds=5.0)
        here.add(run)
        assert here.running(run.run_id) is run
        renewing = asyncio.get_running_loop().create_task(here.renew_forever())
        await asyncio.sleep(3 * LEASE_MS / 1000)
        assert await log.alive(run.run_id), "the lease lapsed while the worker renewed it"
        renewing.cancel()
        await asyncio.sleep(2 * LEASE_MS / 1000)
        assert not await log.alive(run.run_id), "the lease outlived its worker's renewals"
        await run.cancel("cancelled", "test over")
        assert here.running(run.run_id) is None
        await asyncio.gather(*tasks, renewing, return_exceptions=True)
        await client.aclose()

    asyncio.run(scenario())


def test_a_run_nobody_reads_is_parked_then_expired_after_the_grace(redis: RedisServer) -> None:
    async def scenario() -> None:
        client = Redis.from_url(redis.url)
        worker = _Worker(client, grace=1.0)
        log, counters, here, tasks = worker.log, worker.counters, worker.here, worker.tasks
        run = await _started(log, counters, seconds=5.0)
        here.add(run)
        here.check_parked(run, has_reader=False, now=10.0)
        assert (counters.runs_parked, run.unread_since) == (1, 10.0)
        here.check_parked(run, has_reader=True, now=10.5)  # its reader came back
        assert (counters.runs_parked, run.unread_since) == (0, None)
        here.check_parked(run, has_reader=False, now=11.0)
        here.check_parked(run, has_reader=False, now=11.9)  # within the grace: still parked
        assert counters.runs_parked == 1 and run.outcome is None
        here.check_parked(run, has_reader=False, now=12.0)
        await run.ended.wait()
        assert run.outcome == "cancelled"
        assert (counters.runs_parked, counters.runs_expired) == (0, 1)
        meta = await log.meta(run.run_id)
        assert meta is not None and meta.expired  # a late resume is told it expired (410)
        entries = await log.read(run.run_id, 0, None)
        assert entries[-1].outcome == "cancelled" and b"resume_timeout" in entries[-1].data
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()

    asyncio.run(scenario())
