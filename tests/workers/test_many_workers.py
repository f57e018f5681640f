"""Two real uvicorn worker processes behind the kit's nginx (round-robin), sharing a real Redis.

A reconnection lands on whichever worker nginx picks; each test makes sure the
interesting case happens (the resume on the *other* worker) by reading the
``X-Lab-Worker`` header of the response that served it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from httpx_sse import EventSource

from labsupport.client import astream_events, stream_events
from labsupport.events import Event
from labsupport.redis_server import RedisServer
from labsupport.sse import decode_event, event_id
from labsupport.workers import Workers
from tests.support.runs import comparable, stats
from tests.support.secret import AUTH
from tests.workers.conftest import workers_on

pytestmark = pytest.mark.timeout(120)

QUESTION = "Who runs billing?"
EVENTS_IN_ANSWER = 40


@contextmanager
def opened(
    url: str, method: str = "POST", last_id: str | None = None
) -> Iterator[tuple[str, Iterator[Event]]]:
    """A stream from ``url``: the worker that serves it, and its events as they come."""
    headers = {**AUTH, "Last-Event-ID": last_id} if last_id else AUTH
    if method == "GET":
        request = {"params": {"message": QUESTION}}
    else:
        request = {"json": {"message": QUESTION}}
    with (
        httpx.Client(timeout=30.0) as client,
        client.stream(method, f"{url}/chat/stream", headers=headers, **request) as response,
    ):
        assert response.status_code == 200, response.read()
        events = (
            decode_event(sse.event, sse.data, sse.id or None)
            for sse in EventSource(response).iter_sse()
        )
        yield response.headers["x-lab-worker"], events


def start_and_drop(url: str, count: int, method: str = "POST") -> tuple[str, list[Event]]:
    """Read ``count`` events of a new run, then drop the connection (no cancel)."""
    with opened(url, method) as (worker, events):
        first = [event for _, event in zip(range(count), events, strict=False)]
    return worker, first


def resume_elsewhere(
    workers: Workers, avoid: str, last_id: str, method: str = "POST"
) -> tuple[str, list[Event]]:
    """Resume through nginx until the round robin lands on a worker other than ``avoid``."""
    for _ in range(len(workers.worker_urls) + 1):
        with opened(workers.url, method, last_id) as (worker, events):
            if worker != avoid:
                return worker, list(events)
    raise AssertionError("nginx never picked another worker")


def test_nginx_sends_consecutive_requests_to_different_workers(workers: Workers) -> None:
    seen = [start_and_drop(workers.url, 1)[0] for _ in range(4)]
    assert seen[0] != seen[1] and seen[0] == seen[2] and seen[1] == seen[3]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("dropped_after", [1, 9, 24, EVENTS_IN_ANSWER - 1])
def test_a_stream_dropped_on_worker_a_resumes_through_nginx_on_worker_b(
    workers: Workers, method: str, dropped_after: int
) -> None:
    uninterrupted = list(stream_events(workers.url, QUESTION, method=method))  # type: ignore[arg-type]
    a, first = start_and_drop(workers.url, dropped_after, method)
    b, rest = resume_elsewhere(workers, a, event_id(first[-1]), method)
    whole = first + rest
    assert a != b
    assert comparable(whole) == comparable(uninterrupted)
    assert [e.seq for e in whole] == list(range(EVENTS_IN_ANSWER))
    assert {e.run_id for e in whole} == {first[0].run_id}


@pytest.mark.parametrize("left", [3, 2, 1, 0])
def test_a_resume_racing_the_end_of_the_run_gets_exactly_the_rest(
    workers: Workers, left: int
) -> None:
    # Dropped ``left`` events before the end and resumed at once: the run ends around the resume.
    a, first = start_and_drop(workers.url, EVENTS_IN_ANSWER - left)
    b, rest = resume_elsewhere(workers, a, event_id(first[-1]))
    assert a != b
    assert [e.seq for e in first + rest] == list(range(EVENTS_IN_ANSWER))
    assert (first + rest)[-1].type == "done"


def test_many_concurrent_starts_each_get_their_first_event(workers: Workers) -> None:
    async def one(client: httpx.AsyncClient) -> list[int]:
        return [e.seq async for e in astream_events(workers.url, QUESTION, client=client)]

    async def many() -> list[list[int]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(100)))

    runs = asyncio.run(many())
    bad = [seqs for seqs in runs if seqs != list(range(EVENTS_IN_ANSWER))]
    assert bad == []
    assert sum(stats(url)["runs_started"] > 0 for url in workers.worker_urls) == 2  # both served


def test_cancel_sent_to_the_other_worker_stops_the_run_and_its_spend(workers: Workers) -> None:
    a_url, b_url = workers.worker_urls
    received: list[Event] = []
    with opened(a_url) as (_, events):
        for event in events:
            received.append(event)
            if len(received) == 3:
                answer = httpx.post(
                    f"{b_url}/runs/{event.run_id}/cancel", headers=AUTH, timeout=10.0
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["outcome"] == "cancelled"
    assert received[-1].type == "error" and received[-1].code == "cancelled"  # type: ignore[union-attr]
    assert len(received) < EVENTS_IN_ANSWER
    tokens = stats(a_url)["tokens_generated"]
    time.sleep(0.5)
    assert stats(a_url)["tokens_generated"] == tokens  # the agent on worker A stopped


def test_kill_9_of_the_runs_worker_ends_every_reader_with_run_lost(redis: RedisServer) -> None:
    with workers_on(redis, "tests-workers-kill", tokens_per_second=5.0) as workers:
        a_url, b_url = workers.worker_urls
        with opened(a_url) as (_, events):
            first = [event for _, event in zip(range(3), events, strict=False)]
        # A reader on worker B follows the run live; then worker A dies mid-answer.
        with opened(b_url, last_id=event_id(first[-1])) as (_, events):
            follow = [next(events)]
            workers.kill(0)
            follow += list(events)
        assert follow[-1].type == "error" and follow[-1].code == "run_lost"  # type: ignore[union-attr]
        assert [e.seq for e in first + follow] == list(range(first[-1].seq + len(follow) + 1))
        # A late reconnection (nginx skips the dead worker) gets the same end, from the log.
        late = list(stream_events(workers.url, QUESTION, last_event_id=event_id(first[-1])))
        assert comparable(late) == comparable(follow)


def test_redis_restarted_mid_run_ends_the_stream_and_the_workers_keep_serving(
    redis: RedisServer,
) -> None:
    with workers_on(redis, "tests-workers-restart", tokens_per_second=5.0) as workers:
        received: list[Event] = []
        with opened(workers.url) as (_, events):
            for event in events:
                received.append(event)
                if len(received) == 3:
                    redis.restart()
        assert received[-1].type == "error"
        assert received[-1].code in ("store_unavailable", "run_lost")  # type: ignore[union-attr]
        for _ in workers.worker_urls:  # one new run on each worker, round robin
            after = list(stream_events(workers.url, QUESTION))
            assert after[-1].type == "done", after[-1]
