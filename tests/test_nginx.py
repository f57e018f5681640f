"""A real nginx in front of a real uvicorn: buffered versus streamed, idle timeouts, the handle.

``labsupport.nginx`` starts Debian's nginx on a loopback port. These tests read
the lab server's stream through it and note when each event arrives. Honouring
the server's ``X-Accel-Buffering: no``, nginx relays each event at once, so the
first event arrives long before the last. Ignoring it (with compression on, as
in many production configs) nginx holds everything back and the events arrive
together at the end. A silent upstream is cut after ``proxy_read_timeout``
unless keep-alive comments come more often than that.

Without nginx the tests that need it are skipped (failed under ``CI=true``,
where it is installed); the bad-input tests run everywhere.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labsupport.arrivals import arrival_times
from labsupport.lab_url import with_token
from labsupport.nginx import (
    INSTALL_HINT,
    NginxNotFound,
    NginxProxy,
    NginxStartError,
    find_nginx,
    start_nginx,
)
from labsupport.server import ServerSettings, create_app
from tests.support.paced_server import QUESTION, STREAM_SECONDS, paced_server
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

pytestmark = pytest.mark.timeout(120)


def require_nginx() -> str:
    """The nginx binary, or skip (fail under CI) with the way to install it."""
    path = find_nginx()
    if path is None:
        reason = f"nginx is not installed ({INSTALL_HINT})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the nginx tests must run in CI: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The lab server, paced so that buffering would be unmistakable."""
    with paced_server() as url:
        yield url


@pytest.fixture
def proxy_factory() -> Iterator[Any]:
    """Start nginx proxies for one test; every one of them is stopped afterwards."""
    require_nginx()
    started: list[NginxProxy] = []

    def start(url: str, **knobs: Any) -> NginxProxy:
        proxy = start_nginx(url, name=f"test-{len(started)}", **knobs)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def timed_lines(url: str) -> tuple[httpx.Response, list[tuple[float, str]]]:
    """(seconds since the request, line) for each SSE line, as the client reads them."""
    start = time.monotonic()
    seen: list[tuple[float, str]] = []
    with httpx.stream(
        "POST", f"{url}/chat/stream", json={"message": QUESTION}, timeout=30, headers=AUTH
    ) as response:
        for line in response.iter_lines():
            if line:
                seen.append((time.monotonic() - start, line))
    return response, seen


def event_arrivals(lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(t, line.removeprefix("event: ")) for t, line in lines if line.startswith("event: ")]


# -- buffered versus streamed --------------------------------------------------------------


@pytest.mark.slow
def test_honouring_x_accel_buffering_streams_event_by_event(
    proxy_factory: Any, upstream: str
) -> None:
    proxy = proxy_factory(upstream)
    response, lines = timed_lines(proxy.url)
    assert response.status_code == 200
    assert response.headers["server"].startswith("nginx")
    assert response.headers["content-encoding"] == "gzip"  # compression is on, yet it streams
    events = event_arrivals(lines)
    assert events[0][1] == "status" and events[-1][1] == "done"
    spread = events[-1][0] - events[0][0]
    assert spread > STREAM_SECONDS / 2, f"nginx held the stream back: {spread:.2f} s spread"


@pytest.mark.slow
def test_ignoring_x_accel_buffering_delivers_everything_at_the_end(
    proxy_factory: Any, upstream: str
) -> None:
    proxy = proxy_factory(upstream, accel_buffering="ignore")
    assert "proxy_ignore_headers X-Accel-Buffering;" in proxy.config
    response, lines = timed_lines(proxy.url)
    assert response.status_code == 200
    events = event_arrivals(lines)
    assert len(events) > 30 and events[-1][1] == "done"
    first, last = events[0][0], events[-1][0]
    # The run takes ~1.7 s; buffered, even its first event waits for the end.
    assert first > STREAM_SECONDS / 2, f"the first event came early ({first:.2f} s): not buffered"
    assert last - first < STREAM_SECONDS / 4, f"events spread over {last - first:.2f} s"


@pytest.mark.slow
@pytest.mark.parametrize(
    "knobs",
    [
        {"accel_buffering": "ignore", "buffering": False},
        {"accel_buffering": "ignore", "directives": ["proxy_buffering off;"]},
        # Without compression, nginx passes each chunk of a chunked upstream response on as
        # it reads it: what held the events back above was gzip waiting for a flush.
        {"accel_buffering": "ignore", "gzip": False},
    ],
    ids=["buffering-off", "directive-buffering-off", "gzip-off"],
)
def test_the_proxy_side_fixes_stream_even_when_the_header_is_ignored(
    proxy_factory: Any, upstream: str, knobs: dict[str, Any]
) -> None:
    proxy = proxy_factory(upstream, **knobs)
    arrivals = arrival_times(proxy.url, QUESTION)
    assert arrivals[-1][1] == "done"
    assert arrivals[-1][0] - arrivals[0][0] > STREAM_SECONDS / 2


# -- keep-alives versus the proxy's idle timeout -------------------------------------------


@pytest.fixture(scope="module")
def slow_tool_servers() -> Iterator[dict[str, str]]:
    """Two servers whose tool is silent for 2 s: keep-alives every 10 s, and every 0.25 s."""
    urls: dict[str, str] = {}
    with (
        serve_in_thread(
            create_app(
                ServerSettings(
                    ttft=0.0, tokens_per_second=None, tool_delay=2.0, keepalive_seconds=10.0
                ),
                token=TEST_TOKEN,
            )
        ) as rare,
        serve_in_thread(
            create_app(
                ServerSettings(
                    ttft=0.0, tokens_per_second=None, tool_delay=2.0, keepalive_seconds=0.25
                ),
                token=TEST_TOKEN,
            )
        ) as often,
    ):
        urls["rare"], urls["often"] = rare, often
        yield urls


@pytest.mark.slow
def test_a_silence_longer_than_proxy_read_timeout_cuts_the_stream(
    proxy_factory: Any, slow_tool_servers: dict[str, str]
) -> None:
    upstream = slow_tool_servers["rare"]
    before = httpx.get(f"{upstream}/stats", headers=AUTH).json()
    proxy = proxy_factory(upstream, read_timeout=0.75)
    assert "proxy_read_timeout 750ms;" in proxy.config
    seen: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),  # the body ends without its last chunk
        httpx.stream(
            "POST", f"{proxy.url}/chat/stream", json={"message": QUESTION}, timeout=30, headers=AUTH
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                seen.append(line)
    assert seen[-1] == "event: tool_call", "the cut comes while the tool is silent"
    assert "event: done" not in seen
    assert any("upstream timed out" in line for line in proxy.error_log())
    deadline = time.monotonic() + 5
    after = httpx.get(f"{upstream}/stats", headers=AUTH).json()
    while after["active_streams"] > before["active_streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
        after = httpx.get(f"{upstream}/stats", headers=AUTH).json()
    assert after["runs_completed"] == before["runs_completed"], "nobody read the answer"


@pytest.mark.slow
def test_keep_alives_more_often_than_the_timeout_keep_the_stream_open(
    proxy_factory: Any, slow_tool_servers: dict[str, str]
) -> None:
    proxy = proxy_factory(slow_tool_servers["often"], read_timeout=0.75)
    response, lines = timed_lines(proxy.url)
    assert response.status_code == 200
    texts = [line for _, line in lines]
    assert texts.count(": keep-alive") >= 4  # 2 s of tool at one every 0.25 s
    assert texts[-3] == "event: done"
    assert not any("upstream timed out" in line for line in proxy.error_log())


# -- the handle ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_handle_replaces_by_name_stops_and_cleans_up(upstream: str) -> None:
    require_nginx()
    with start_nginx(upstream, name="test-handle") as first:
        assert first.running
        assert repr(first).startswith("<NginxProxy 'test-handle' http://127.0.0.1:")
        second = start_nginx(upstream, name="test-handle")
        try:
            assert not first.running, "the same name replaces the old proxy"
            assert not first.workdir.exists()
            assert httpx.get(f"{second.url}/stats", headers=AUTH).status_code == 200
        finally:
            second.stop()
        assert not second.running and not second.workdir.exists()
        second.stop()  # stopping twice is harmless
    assert "running" not in repr(first)


@pytest.mark.slow
def test_a_config_nginx_refuses_raises_with_its_own_words(upstream: str) -> None:
    require_nginx()
    before = set(Path(tempfile.gettempdir()).glob("lab-nginx-*"))
    with pytest.raises(NginxStartError, match='unknown directive "proxy_bufering"') as info:
        start_nginx(upstream, name="test-refused", directives=["proxy_bufering off;"])
    assert any("[emerg]" in line for line in info.value.log_lines)
    assert set(Path(tempfile.gettempdir()).glob("lab-nginx-*")) <= before, "a directory was left"


def test_a_missing_nginx_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAB_NGINX", str(tmp_path / "no-nginx-here"))
    assert find_nginx() is None
    with pytest.raises(NginxNotFound, match="apt-get install nginx") as info:
        start_nginx("http://127.0.0.1:8000")
    assert "LAB_NGINX" in str(info.value)
    with pytest.raises(NginxNotFound, match="is not an executable file"):
        start_nginx("http://127.0.0.1:8000", nginx=str(tmp_path / "nginx"))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"upstream": 8000}, TypeError, "upstream must be a URL string"),
        ({"upstream": "127.0.0.1:8000"}, ValueError, "must be an http:// URL"),
        ({"upstream": "https://127.0.0.1:8000"}, ValueError, "must be an http:// URL"),
        ({"upstream": "http://127.0.0.1:8000/chat"}, ValueError, "no path or query"),
        ({"upstream": "http://127.0.0.1:8000?x=1"}, ValueError, "no path or query"),
        ({"upstream": "http://127.0.0.1:8000;evil"}, ValueError, "bad port|plain http"),
        ({"upstream": "http://a;b:80"}, ValueError, "plain http://host:port"),
        ({"upstream": "http://127.0.0.1:99999"}, ValueError, "bad port"),
        ({"accel_buffering": "no"}, ValueError, "'honour' or 'ignore'"),
        ({"gzip": "yes"}, TypeError, "gzip must be True or False"),
        ({"buffering": 0}, TypeError, "buffering must be True or False"),
        ({"read_timeout": "60s"}, TypeError, "read_timeout must be a number of seconds"),
        ({"read_timeout": True}, TypeError, "read_timeout must be a number of seconds"),
        ({"read_timeout": 0}, ValueError, ">= 0.001"),
        ({"read_timeout": float("nan")}, ValueError, ">= 0.001"),
        ({"read_timeout": float("inf")}, ValueError, ">= 0.001"),
        ({"directives": "proxy_buffering off;"}, TypeError, "a list of strings"),
        ({"directives": [42]}, TypeError, "each directive must be a str"),
        ({"directives": ["proxy_buffering off"]}, ValueError, "ending in ';'"),
        ({"directives": ["gzip off; gzip on;"]}, ValueError, "ending in ';'"),
        ({"directives": ["} server { listen 80;"]}, ValueError, "open or close a block"),
        ({"name": ""}, ValueError, "name must be a non-empty str"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"upstream": "http://127.0.0.1:8000", **kwargs}
    with pytest.raises(error, match=message):
        start_nginx(arguments.pop("upstream"), **arguments)


@pytest.mark.slow
def test_the_secret_passes_through_nginx_in_the_query_and_in_the_header(upstream: str) -> None:
    require_nginx()
    with start_nginx(with_token(upstream, TEST_TOKEN), name="test-secret") as proxy:
        assert proxy.url == f"{proxy.base_url}/?token={TEST_TOKEN}"
        assert TEST_TOKEN not in proxy.config and TEST_TOKEN not in repr(proxy)
        kinds = [kind for _, kind in arrival_times(proxy.url, QUESTION)]  # Bearer, from the URL
        by_query = httpx.get(with_token(f"{proxy.base_url}/stats", TEST_TOKEN), timeout=10)
        refused = httpx.get(f"{proxy.base_url}/stats", timeout=10)
    assert kinds[-1] == "done"
    assert by_query.status_code == 200
    assert refused.status_code == 401 and "server.url" in refused.json()["detail"]
