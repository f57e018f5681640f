"""Appends of many runs pipelined together: each keeps its own answer, and a flushed script reloads.

Against a real ``redis-server`` (skipped outside CI without one).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from labsupport.redis_log import RunLog
from labsupport.redis_server import RedisServer
from tests.support.redis_server import redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from redis_server("test_redis_appends")


def test_concurrent_appends_of_many_runs_each_get_their_own_answer(redis: RedisServer) -> None:
    async def scenario() -> None:
        client = Redis.from_url(redis.url)
        log = RunLog(client, prefix="t:", max_events=100, keep_ms=60_000)
        runs = [f"run_{uuid.uuid4().hex[:12]}" for _ in range(50)]
        taken = runs[7]
        assert await log.append(taken, 0, b"first", None)
        # All at once: they queue behind one another and share round trips.
        answers = await asyncio.gather(*(log.append(r, 0, r.encode(), None) for r in runs))
        assert answers == [r != taken for r in runs]  # only the taken seq is refused
        for run_id in runs:
            [entry] = await log.read(run_id, -1, None)
            assert entry.data == (b"first" if run_id == taken else run_id.encode())
        await client.aclose()

    asyncio.run(scenario())


def test_appends_go_on_after_redis_forgets_its_scripts(redis: RedisServer) -> None:
    async def scenario() -> None:
        client = Redis.from_url(redis.url)
        log = RunLog(client, prefix="t:", max_events=100, keep_ms=60_000)
        runs = [f"run_{uuid.uuid4().hex[:12]}" for _ in range(10)]
        assert all(await asyncio.gather(*(log.append(r, 0, b"a", None) for r in runs)))
        await client.script_flush()  # as after a restart of Redis
        answers = await asyncio.gather(*(log.append(r, 1, b"b", "completed") for r in runs))
        assert all(answers)
        for run_id in runs:
            entries = await log.read(run_id, -1, None)
            assert [(e.seq, e.outcome) for e in entries] == [(0, None), (1, "completed")]
        await client.aclose()

    asyncio.run(scenario())
