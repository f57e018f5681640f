"""A run driven by this worker: recorded with its first batch, its batches handed to readers here.

A reader on the driving worker takes each batch from the run once Redis holds
it (``RedisRun.next_entries``) and falls back to reading Redis when it is behind
or the run has ended. Against a real ``redis-server``, hypothesis chooses when
the agent yields, when each reader joins, from which event it resumes and how
slowly it writes: every reader gets every event after its position once, in order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from labsupport import redis_run
from labsupport.events import DoneEvent, Event, TokenEvent
from labsupport.live_run import RunCounters
from labsupport.redis_log import NewRun, RunLog
from labsupport.redis_run import RedisRun
from labsupport.redis_server import RedisServer
from labsupport.redis_tail import Tail
from labsupport.sse import LabEncoder
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from redis_server("test_redis_run")


async def _agent(run_id: str, events: int, pauses: list[int]) -> AsyncIterator[Event]:
    for seq in range(events - 1):
        yield TokenEvent(run_id=run_id, seq=seq, text=f"{seq}")
        for _ in range(pauses[seq]):
            await asyncio.sleep(0)
    yield DoneEvent(run_id=run_id, seq=events - 1)


def _run(log: RunLog, run_id: str, events: int, pauses: list[int]) -> RedisRun:
    counters = RunCounters(active_runs=1)  # as the store counts it before it starts
    return RedisRun(
        run_id,
        "q",
        _agent(run_id, events, pauses),
        LabEncoder(),
        resumable=True,
        log=log,
        counters=counters,
        new=NewRun("q", resumable=True, lease_ms=5000, reader="r"),
    )


def test_a_run_is_recorded_by_its_first_append(redis: RedisServer) -> None:
    async def scenario() -> None:
        client = Redis.from_url(redis.url)
        log = RunLog(client, prefix="t:", max_events=1000, keep_ms=60_000)
        run_id = f"run_{uuid.uuid4().hex[:12]}"
        run = _run(log, run_id, 3, [0, 0, 0])
        await run.start()
        meta = await log.meta(run_id)
        assert meta is not None and meta.message == "q" and meta.resumable
        assert meta.first is not None and meta.first.seq == 0
        assert await client.get(log.keys(run_id).reader) == b"r"
        await run.ended.wait()
        assert run.outcome == "completed"
        await client.aclose()

    asyncio.run(scenario())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.integers(min_value=1, max_value=30),
    pauses=st.lists(st.integers(min_value=0, max_value=3), min_size=30, max_size=30),
    readers=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=30),  # joins once this many events are made
            st.integers(min_value=-1, max_value=29),  # resumes after this seq
            st.integers(min_value=0, max_value=3),  # yields this often per batch (writes slowly)
        ),
        min_size=1,
        max_size=4,
    ),
    kept=st.sampled_from([2, redis_run.KEPT]),  # 2: a lagging reader falls back to Redis
)
def test_readers_on_the_driving_worker_get_each_event_once_in_order(
    redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    events: int,
    pauses: list[int],
    readers: list[tuple[int, int, int]],
    kept: int,
) -> None:
    monkeypatch.setattr(redis_run, "KEPT", kept)

    async def scenario() -> list[tuple[int, list[int]]]:
        client = Redis.from_url(redis.url)
        log = RunLog(client, prefix="t:", max_events=1000, keep_ms=60_000)
        tail = Tail(client, f"t:wake:{uuid.uuid4().hex}")
        run_id = f"run_{uuid.uuid4().hex[:12]}"
        run = _run(log, run_id, events, pauses)
        await run.start()

        async def read(joins: int, after: int, lag: int) -> tuple[int, list[int]]:
            while run.appended < min(joins, events) - 1:  # noqa: ASYNC110 - one interleaving each
                await asyncio.sleep(0)
            after = min(after, run.appended)  # a client can only have what was sent
            start, seen = after, []
            if after == events - 1:
                return start, seen
            while True:
                entries = await run.next_entries(after, 5.0)
                if entries is None:  # behind, or the run ended: Redis has it
                    entries = await tail.read(log.keys(run_id).stream, after, 5.0)
                assert entries, "a reader waited 5 s for an event that was appended"
                seen += [entry.seq for entry in entries]
                after = entries[-1].seq
                for _ in range(lag):
                    await asyncio.sleep(0)
                if entries[-1].outcome is not None:
                    return start, seen

        results = await asyncio.gather(*(read(*reader) for reader in readers))
        await run.ended.wait()
        await tail.aclose()
        await client.aclose()
        return list(results)

    for start, seen in asyncio.run(scenario()):
        assert seen == list(range(start + 1, events)), f"resumed after {start}"
