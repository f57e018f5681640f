"""Fixtures for the suites that run several worker processes behind nginx, sharing a Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labsupport.redis_server import RedisServer
from labsupport.workers import Workers, start_workers
from tests.browser.conftest import page  # noqa: F401 - the browser test here uses it too
from tests.support.redis_server import redis_server
from tests.test_nginx import require_nginx

# Paced so a test can act while a run is going: 40 events in about a second.
FAST: dict[str, Any] = {"ttft": 0, "tool_delay": 0, "tokens_per_second": 40.0}


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    yield from redis_server("tests-workers")


def workers_on(redis: RedisServer, name: str, count: int = 2, **settings: Any) -> Workers:
    """``count`` resumable workers on ``redis`` behind nginx ``name`` (skipped without nginx)."""
    require_nginx()
    fields = {**FAST, "resumable": True, "resume_grace_seconds": 5.0, **settings}
    return start_workers(count, run_store=redis.url, settings=fields, name=name)


@pytest.fixture(scope="module")
def workers(redis: RedisServer) -> Iterator[Workers]:
    with workers_on(redis, "tests-workers") as started:
        yield started
