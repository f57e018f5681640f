"""A real Redis for tests: Debian's ``redis-server`` on a free loopback port, nothing on disk.

Outside CI a missing ``redis-server`` (or redis-py) skips the test with the reason, so a
laptop still runs the rest; under ``CI=true`` it fails loudly, since ``.ci/run`` installs it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from labsupport.redis_server import INSTALL_HINT, RedisServer, find_redis_server, start_redis


def _missing() -> str | None:
    if importlib.util.find_spec("redis") is None:
        return "redis-py is not installed (pip install -e .)"
    if find_redis_server() is None:
        return f"redis-server is not installed ({INSTALL_HINT})"
    return None


def require_redis() -> None:
    """Skip (fail under CI) with the reason when Redis cannot be run here."""
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Redis tests must run in CI: {reason}")
    pytest.skip(reason)


def redis_server(name: str) -> Iterator[RedisServer]:
    """Yield a started ``redis-server`` (``--save "" --appendonly no``); stopped afterwards."""
    require_redis()
    server = start_redis(name)
    try:
        yield server
    finally:
        server.stop()
