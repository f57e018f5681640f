"""A run's Redis stream: every event once, in order, whatever the interleaving of appends and reads.

These run against a real ``redis-server`` (skipped outside CI without one). The
property test lets hypothesis choose when the appender yields, when each reader
joins and from which event it resumes, and whether it waits through the
worker's shared ``Tail`` or with its own ``XREAD``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from labsupport.redis_log import NewRun, RunLog, entry_id
from labsupport.redis_server import RedisServer
from labsupport.redis_tail import Tail
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from redis_server("test_redis_log")


def test_entry_ids_are_the_sequence_numbers() -> None:
    assert [entry_id(s) for s in (-1, 0, 7)] == ["0-0", "1-0", "1-7"]


def test_a_seq_is_appended_once_and_a_lost_run_is_ended_once(redis: RedisServer) -> None:
    async def scenario() -> None:
        client = Redis.from_url(redis.url)
        log = RunLog(client, prefix="t:", max_events=100, keep_ms=60_000)
        run_id = f"run_{uuid.uuid4().hex[:12]}"
        new = NewRun("q", resumable=True, lease_ms=50, reader="r")
        assert await log.append(run_id, 0, b"a", None, new=new)  # recorded with its first event
        assert not await log.append(run_id, 0, b"again", None)  # taken: refused
        assert await log.alive(run_id)
        assert (await log.meta(run_id)) is not None
        assert await client.get(log.keys(run_id).reader) == b"r"
        await asyncio.sleep(0.1)  # the lease lapses: the worker is gone
        assert not await log.append_if_lost(run_id, 5, b"wrong position", "failed")
        assert await log.append_if_lost(run_id, 0, b"lost", "failed")
        assert not await log.append_if_lost(run_id, 1, b"twice", "failed")  # it has ended
        assert not await log.append(run_id, 1, b"late worker", None)  # its seq is taken
        entries = await log.read(run_id, -1, None)
        assert [(e.seq, e.data, e.outcome) for e in entries] == [
            (0, b"a", None),
            (1, b"lost", "failed"),
        ]
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
            st.integers(min_value=0, max_value=30),  # joins after this many appends
            st.integers(min_value=-1, max_value=29),  # resumes after this seq
            st.booleans(),  # through the shared Tail, or its own XREAD
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_any_interleaving_of_appends_and_reads_yields_each_event_once(
    redis: RedisServer,
    events: int,
    pauses: list[int],
    readers: list[tuple[int, int, bool]],
) -> None:
    async def scenario() -> list[tuple[int, list[int]]]:
        client = Redis.from_url(redis.url)
        log = RunLog(client, prefix="t:", max_events=1000, keep_ms=60_000)
        tail = Tail(client, f"t:wake:{uuid.uuid4().hex}")
        run_id = f"run_{uuid.uuid4().hex[:12]}"
        count = 0

        async def append() -> None:
            nonlocal count
            for seq in range(events):
                for _ in range(pauses[seq]):
                    await asyncio.sleep(0)
                outcome = "completed" if seq == events - 1 else None
                assert await log.append(run_id, seq, f"{seq}".encode(), outcome)
                count += 1

        async def read(joins: int, after: int, shared: bool) -> tuple[int, list[int]]:
            while count < min(joins, events):  # noqa: ASYNC110 - each yield is one interleaving
                await asyncio.sleep(0)
            after = min(after, count - 1)  # a client can only have what was sent
            start, seen = after, []
            if after == events - 1:
                return start, seen  # it has the last event: nothing to read (the server says so)
            while True:
                if shared:
                    entries = await tail.read(log.keys(run_id).stream, after, 5.0)
                else:
                    entries = await log.read(run_id, after, 5000)
                assert entries, "a reader waited 5 s for an event that was appended"
                seen += [entry.seq for entry in entries]
                after = entries[-1].seq
                if entries[-1].outcome is not None:
                    return start, seen

        results = await asyncio.gather(append(), *(read(*reader) for reader in readers))
        await tail.aclose()
        await client.aclose()
        return list(results[1:])

    for start, seen in asyncio.run(scenario()):
        assert seen == list(range(start + 1, events))
