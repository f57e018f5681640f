"""Runs kept in a real Redis: two apps sharing it resume, cancel and refuse like one server.

Each "worker" here is a real uvicorn on loopback in a thread of this process, with
its own event loop and its own Redis connections; the suites in ``tests/workers``
run separate processes behind nginx. Redis is Debian's ``redis-server``, started on
a free port with no persistence (skipped outside CI when it is not installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from labsupport.client import StreamError, stream_events
from labsupport.events import Event
from labsupport.redis_server import RedisServer
from labsupport.redis_store import RedisStore, shown_url
from labsupport.run_errors import StoreUnavailable
from labsupport.server import ServerSettings, create_app
from labsupport.sse import event_id
from tests.support.redis_server import redis_server
from tests.support.runs import comparable, read_then_drop, stats, wait_for
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

QUESTION = "Who runs billing?"
EVENTS_IN_ANSWER = 40  # what the mock agent emits for QUESTION


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from redis_server("test_redis_store")


def settings(redis: RedisServer, **fields: Any) -> ServerSettings:
    defaults: dict[str, Any] = {"ttft": 0, "tool_delay": 0, "tokens_per_second": 200.0}
    return ServerSettings(**{**defaults, "run_store": redis.url, **fields})


@pytest.fixture(scope="module")
def pair(redis: RedisServer) -> Iterator[tuple[str, str]]:
    """Two apps (two workers' worth) sharing one Redis, resumable."""
    with ExitStack() as stack:
        urls = [
            stack.enter_context(
                serve_in_thread(
                    create_app(
                        settings(redis, resumable=True, resume_grace_seconds=5.0), token=TEST_TOKEN
                    ),
                    lifespan="on",
                )
            )
            for _ in range(2)
        ]
        yield urls[0], urls[1]


def test_the_setting_names_a_backend_and_memory_is_the_default() -> None:
    assert ServerSettings().run_store == "memory"
    with pytest.raises(ValidationError, match="'postgres://db'"):
        ServerSettings(run_store="postgres://db")


def test_a_password_in_the_url_is_never_shown() -> None:
    assert shown_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert "s3cret" not in repr(RedisStore("redis://user:s3cret@127.0.0.1:1/0"))


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("dropped_after", [1, 13, EVENTS_IN_ANSWER - 1])
def test_a_run_dropped_on_one_worker_resumes_on_the_other_exactly_once(
    pair: tuple[str, str], method: Any, dropped_after: int
) -> None:
    a, b = pair
    uninterrupted = list(stream_events(a, QUESTION, method=method))
    before_b = stats(b)
    first = read_then_drop(a, dropped_after, method)
    rest = list(stream_events(b, QUESTION, method=method, last_event_id=event_id(first[-1])))
    whole = first + rest
    assert comparable(whole) == comparable(uninterrupted)
    assert [e.seq for e in whole] == list(range(EVENTS_IN_ANSWER))
    assert stats(b)["runs_resumed"] == before_b["runs_resumed"] + 1
    assert stats(b)["runs_started"] == before_b["runs_started"]  # B only read it


def test_the_in_process_store_cannot_resume_on_another_worker(redis: RedisServer) -> None:
    memory = settings(redis, resumable=True, run_store="memory")
    with (
        serve_in_thread(create_app(memory, token=TEST_TOKEN)) as a,
        serve_in_thread(create_app(memory, token=TEST_TOKEN)) as b,
    ):
        first = read_then_drop(a, 3)
        with pytest.raises(StreamError, match="404"):
            list(stream_events(b, QUESTION, last_event_id=event_id(first[-1])))


def test_a_resume_with_the_last_event_ends_at_once(pair: tuple[str, str]) -> None:
    a, b = pair
    whole = list(stream_events(a, QUESTION, cancel_on_close=False))
    assert whole[-1].type == "done"
    response = httpx.get(
        f"{b}/chat/stream",
        params={"message": QUESTION},
        headers={**AUTH, "Last-Event-ID": event_id(whole[-1])},
        timeout=5.0,
    )
    assert response.status_code == 200
    assert "event:" not in response.text


def test_resume_refusals_keep_their_meaning(pair: tuple[str, str]) -> None:
    a, b = pair
    first = read_then_drop(a, 2)
    run_id = first[0].run_id

    def resume(last_id: str, message: str = QUESTION) -> httpx.Response:
        return httpx.post(
            f"{b}/chat/stream",
            json={"message": message},
            headers={**AUTH, "Last-Event-ID": last_id},
            timeout=5.0,
        )

    assert resume("run_000000000000:3").status_code == 404
    assert resume(f"{run_id}:1", "Another question?").status_code == 409
    assert resume(f"{run_id}:999").status_code == 409
    list(stream_events(b, QUESTION, last_event_id=f"{run_id}:1"))  # end it


def test_a_resume_from_before_the_replay_limit_is_410(redis: RedisServer) -> None:
    app = create_app(settings(redis, resumable=True, replay_events=5), token=TEST_TOKEN)
    with serve_in_thread(app, lifespan="on") as url:
        first = read_then_drop(url, 2)
        wait_for(lambda: stats(url)["runs_completed"] == 1)
        response = httpx.post(
            f"{url}/chat/stream",
            json={"message": QUESTION},
            headers={**AUTH, "Last-Event-ID": event_id(first[-1])},
        )
        assert response.status_code == 410
        assert "last 5 events" in response.json()["detail"]
        tail = list(stream_events(url, QUESTION, last_event_id=f"{first[0].run_id}:34"))
        assert [e.seq for e in tail] == list(range(35, EVENTS_IN_ANSWER))


def test_a_parked_run_nobody_comes_back_for_is_cancelled_then_410(redis: RedisServer) -> None:
    app = create_app(
        settings(redis, resumable=True, resume_grace_seconds=0.3, tokens_per_second=5.0),
        token=TEST_TOKEN,
    )
    with serve_in_thread(app, lifespan="on") as url:
        first = read_then_drop(url, 3)
        wait_for(lambda: stats(url)["runs_expired"] == 1)
        wait_for(lambda: stats(url)["runs_cancelled"] == 1)
        tokens = stats(url)["tokens_generated"]
        response = httpx.post(
            f"{url}/chat/stream",
            json={"message": QUESTION},
            headers={**AUTH, "Last-Event-ID": event_id(first[-1])},
        )
        assert response.status_code == 410
        assert "nobody reconnected" in response.json()["detail"]
        time.sleep(0.5)
        assert stats(url)["tokens_generated"] == tokens  # the spend stopped


def test_cancel_on_the_other_worker_stops_the_run_and_its_spend(redis: RedisServer) -> None:
    slow = settings(redis, resumable=True, tokens_per_second=10.0)
    with (
        serve_in_thread(create_app(slow, token=TEST_TOKEN), lifespan="on") as a,
        serve_in_thread(create_app(slow, token=TEST_TOKEN), lifespan="on") as b,
    ):
        received: list[Event] = []
        cancelled: list[Event] = []
        for event in stream_events(a, QUESTION, cancel_on_close=False):
            received.append(event)
            if event.type == "token" and len(received) < 40 and not cancelled:
                cancelled.append(event)
                answer = httpx.post(f"{b}/runs/{event.run_id}/cancel", headers=AUTH, timeout=5.0)
                assert answer.status_code == 200
                assert answer.json()["outcome"] == "cancelled"
        assert received[-1].type == "error"
        assert received[-1].code == "cancelled"  # type: ignore[union-attr]
        assert stats(a)["runs_cancelled"] == 1
        tokens = stats(a)["tokens_generated"]
        time.sleep(0.5)
        assert stats(a)["tokens_generated"] == tokens
        again = httpx.post(f"{b}/runs/{received[0].run_id}/cancel", headers=AUTH, timeout=5.0)
        assert again.status_code == 409


def test_an_unreachable_redis_is_named_at_start_and_answered_503() -> None:
    url = "redis://127.0.0.1:1/0"
    store = RedisStore(url)
    with pytest.raises(StoreUnavailable, match=r"redis://127\.0\.0\.1:1/0"):
        asyncio.run(store.open())
    app = create_app(
        ServerSettings(run_store=url), token=TEST_TOKEN
    )  # lifespan off: connects on first use
    with serve_in_thread(app) as server:
        response = httpx.post(f"{server}/chat/stream", json={"message": QUESTION}, headers=AUTH)
        assert response.status_code == 503
        assert url in response.json()["detail"]
        assert httpx.get(f"{server}/stats", headers=AUTH).status_code == 200  # still serving


def test_a_server_started_from_a_notebook_names_an_unreachable_redis() -> None:
    from labsupport.kernel_server import start_server

    app = create_app(ServerSettings(run_store="redis://127.0.0.1:1/0"), token=TEST_TOKEN)
    with pytest.raises(
        RuntimeError, match=r"run store at redis://127\.0\.0\.1:1/0 does not answer"
    ):
        start_server(app, name="test_redis_store-unreachable")


def test_a_run_whose_first_append_fails_is_answered_503_and_not_counted() -> None:
    # Redis answers the store's first check, then stops: the run's first append (which
    # also records the run) fails, so its start fails before any byte of the stream.
    with ExitStack() as stack:
        own = stack.enter_context(contextlib.contextmanager(redis_server)("test_redis_store-stop"))
        app = create_app(ServerSettings(run_store=own.url, ttft=0), token=TEST_TOKEN)
        server = stack.enter_context(serve_in_thread(app, lifespan="on"))
        assert len(list(stream_events(server, QUESTION, token=TEST_TOKEN))) == EVENTS_IN_ANSWER
        before = stats(server)
        own.stop()
        response = httpx.post(f"{server}/chat/stream", json={"message": QUESTION}, headers=AUTH)
        assert response.status_code == 503
        assert shown_url(own.url) in response.json()["detail"]
        after = stats(server)
        assert after["runs_started"] == before["runs_started"]
        assert after["runs_failed"] == before["runs_failed"]
        assert after["active_runs"] == 0
