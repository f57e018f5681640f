"""The in-kernel server: starts in the background, replaces itself, stops fast, never kills the kernel."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from labsupport import MockLLM
from labsupport.client import stream_events
from labsupport.kernel_server import PortInUseError, running_servers, start_server
from labsupport.server import ServerSettings, create_app
from tests.support.net import free_port

pytestmark = pytest.mark.slow
QUESTION = "Who runs billing?"


def instant_app() -> FastAPI:
    return create_app(ServerSettings(llm=MockLLM.instant()))


def port_is_listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def blocker() -> Iterator[int]:
    """A port held by 'another program': a listening socket this test owns."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_start_returns_a_handle_that_serves(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    with start_server(instant_app(), name="ks-basic") as server:
        assert server.running
        token = server.token
        assert token is not None and len(token) >= 43
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.url == f"http://127.0.0.1:{server.port}/?token={token}"
        assert server.proxy_path == f"/proxy/{server.port}/?token={token}"
        assert server.proxy_path_for("/stats") == f"/proxy/{server.port}/stats?token={token}"
        assert server.headers == {"Authorization": f"Bearer {token}"}
        assert httpx.get(server.url_for("/stats")).json()["runs_started"] == 0
        assert repr(server) == f"<ServerHandle 'ks-basic' {server.base_url} running>"
        assert token not in repr(server) and token not in str(server)
    assert not server.running
    assert any("Started server process" in line for line in server.logs)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # uvicorn's log lines stay on the handle


def test_proxy_path_lives_under_the_hub_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    with start_server(instant_app(), name="ks-hub") as server:
        assert server.proxy_path == f"/user/alice/proxy/{server.port}/?token={server.token}"


def test_busy_port_raises_a_clear_error_and_the_process_carries_on(blocker: int) -> None:
    with pytest.raises(PortInUseError, match=f"port {blocker} on 127.0.0.1 is already in use"):
        start_server(instant_app(), port=blocker, name="ks-busy")
    with start_server(instant_app(), name="ks-busy") as server:
        assert httpx.get(server.url_for("/stats")).status_code == 200


def test_starting_again_under_the_same_name_replaces_the_old_server() -> None:
    port = free_port()
    first = start_server(instant_app(), port=port, name="ks-replace")
    second = start_server(instant_app(), port=port, name="ks-replace")
    try:
        assert not first.running
        assert second.running
        assert [s for s in running_servers() if s.name == "ks-replace"] == [second]
        assert httpx.get(second.url_for("/stats")).status_code == 200
    finally:
        second.stop()
    assert not port_is_listening(port)


def test_restart_serves_again_on_the_same_port() -> None:
    with start_server(instant_app(), name="ks-restart") as server:
        port = server.port
        assert server.restart() is server
        assert server.port == port
        assert httpx.get(server.url_for("/stats")).status_code == 200


def test_stop_frees_the_port_within_2_s_while_a_stream_is_open() -> None:
    llm = MockLLM(ttft=0.0, tokens_per_second=5, tool_delay=0.0)
    server = start_server(create_app(ServerSettings(llm=llm)), name="ks-stop")
    lines: list[str] = []
    streaming = threading.Event()

    def read() -> None:
        with httpx.stream(
            "GET",
            f"{server.base_url}/chat/stream",
            params={"message": QUESTION},
            headers=server.headers,
        ) as r:
            for line in r.iter_lines():
                lines.append(line)
                if line == "event: token":
                    streaming.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert streaming.wait(5)
    started = time.monotonic()
    server.stop()
    stopped = time.monotonic() - started
    reader.join(5)
    assert stopped < 2.0
    assert not port_is_listening(server.port)
    assert not reader.is_alive()
    assert "event: error" in lines
    assert '"code":"server_shutdown"' in lines[lines.index("event: error") + 1]


def test_blocking_client_in_a_running_event_loop_does_not_deadlock() -> None:
    """A notebook cell runs inside the kernel's event loop; a blocking client there must work."""

    async def cell() -> list[str]:
        with start_server(instant_app(), name="ks-loop") as server:
            return [e.type for e in stream_events(server.url, QUESTION)]

    types = asyncio.run(asyncio.wait_for(cell(), timeout=20))
    assert types[0] == "status"
    assert types[-1] == "done"


def test_app_that_fails_to_start_raises_and_leaves_nothing_running() -> None:
    @asynccontextmanager
    async def broken(app: Any) -> Any:
        raise RuntimeError("no database")
        yield

    port = free_port()
    with pytest.raises(RuntimeError, match="the server did not start"):
        start_server(FastAPI(lifespan=broken), port=port, name="ks-broken")
    assert not port_is_listening(port)
    assert all(s.name != "ks-broken" for s in running_servers())


@pytest.mark.parametrize(
    "port", [-1, 70000, "8000", True], ids=["negative", "too-big", "str", "bool"]
)
def test_bad_port_is_refused(port: Any) -> None:
    with pytest.raises(ValueError, match="port must be an int from 0 to 65535"):
        start_server(instant_app(), port=port)


def test_settings_and_app_together_are_refused() -> None:
    with pytest.raises(ValueError, match="pass settings only without app"):
        start_server(instant_app(), settings=ServerSettings())


def test_every_start_makes_a_new_secret_and_the_old_one_is_refused() -> None:
    with start_server(instant_app(), name="ks-secret") as first:
        old = first.token
    with start_server(instant_app(), name="ks-secret") as second:
        assert second.token != old
        stale = httpx.get(f"{second.base_url}/stats", headers={"Authorization": f"Bearer {old}"})
        assert stale.status_code == 403
        assert "server.url" in stale.json()["detail"]
        assert httpx.get(f"{second.base_url}/stats").status_code == 401
        assert httpx.get(f"{second.base_url}/stats", headers=second.headers).status_code == 200


def test_a_path_glued_after_the_secret_is_refused_with_the_fix() -> None:
    with start_server(instant_app(), name="ks-glued") as server:
        response = httpx.get(f"{server.url}/stats")
    assert response.status_code == 403
    assert "server.url_for('/stats')" in response.json()["detail"]


def test_one_setting_starts_a_server_without_a_secret() -> None:
    settings = ServerSettings(llm=MockLLM.instant(), require_token=False)
    with start_server(settings=settings, name="ks-open") as server:
        assert server.token is None and server.headers == {}
        assert server.url == server.base_url
        assert repr(server).endswith("running, no secret>")
        assert httpx.get(f"{server.url}/stats").status_code == 200
