"""The host guard through a real uvicorn and a real Chromium: rebound names and foreign pages start nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from labsupport.host_guard import HostGuard, host_name, running_under_jupyterhub
from labsupport.server import ServerSettings, create_app
from tests.support.endpoints import WORK, WORK_IDS
from tests.support.foreign_page import Recorder, foreign_page, visit
from tests.support.runs import INSTANT
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

QUESTION = "Who runs billing?"


def runs_started(url: str) -> int:
    started: int = httpx.get(f"{url}/stats", timeout=10, headers=AUTH).json()["runs_started"]
    return started


@pytest.mark.parametrize(("method", "path", "request_args"), WORK, ids=WORK_IDS)
def test_a_foreign_host_is_refused_before_any_work(
    lab_url: str, method: str, path: str, request_args: dict[str, Any]
) -> None:
    before = runs_started(lab_url)
    response = httpx.request(
        method,
        f"{lab_url}{path}",
        headers={**AUTH, "Host": "evil.example"},
        timeout=10,
        **request_args,
    )
    assert response.status_code == 403
    assert "Host 'evil.example'" in response.json()["detail"]
    assert "allowed_hosts" in response.json()["detail"]
    assert runs_started(lab_url) == before


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]"])
def test_loopback_names_are_served_on_any_port(lab_url: str, name: str) -> None:
    response = httpx.get(f"{lab_url}/stats", headers={**AUTH, "Host": f"{name}:1234"}, timeout=10)
    assert response.status_code == 200
    assert "runs_started" in response.json()


def test_a_configured_name_is_served_and_others_still_refused() -> None:
    app = create_app(
        ServerSettings(**INSTANT, allowed_hosts=("lab.example.org",)), token=TEST_TOKEN
    )
    with serve_in_thread(app) as url:
        allowed = httpx.get(
            f"{url}/stats", headers={**AUTH, "Host": "lab.example.org:443"}, timeout=10
        )
        other = httpx.get(
            f"{url}/stats", headers={**AUTH, "Host": "lab.example.org.evil"}, timeout=10
        )
    assert (allowed.status_code, other.status_code) == (200, 403)


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_cross_site_get_is_refused_and_starts_no_run(lab_url: str, site: str) -> None:
    before = runs_started(lab_url)
    response = httpx.get(
        f"{lab_url}/chat/stream",
        params={"message": QUESTION},
        headers={
            **AUTH,
            "Sec-Fetch-Site": site,
            "Sec-Fetch-Mode": "no-cors",
            "Sec-Fetch-Dest": "image",
        },
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith(f"a {site} request from origin (none sent)")
    assert runs_started(lab_url) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:8888"},
    ],
    ids=["no-fetch-metadata", "same-origin", "typed-url", "listed-cors-origin"],
)
def test_requests_a_page_could_not_forge_still_stream(
    lab_url: str, headers: dict[str, str]
) -> None:
    before = runs_started(lab_url)
    response = httpx.get(
        f"{lab_url}/chat/stream",
        params={"message": QUESTION},
        headers={**AUTH, **headers},
        timeout=10,
    )
    assert response.status_code == 200
    assert "event: done" in response.text
    assert runs_started(lab_url) == before + 1


def test_the_page_opens_from_a_link_on_another_site(lab_url: str) -> None:
    response = httpx.get(f"{lab_url}/", headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert response.status_code == 200
    assert "<html" in response.text.lower()


def test_a_non_json_post_is_still_refused_with_415(lab_url: str) -> None:
    response = httpx.post(
        f"{lab_url}/chat/stream",
        content=f"message={QUESTION}",
        timeout=10,
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("trusted", "context", "status"),
    [
        (True, "/user/alice/proxy/8000", 200),
        (True, "/user/alice/proxy/9999", 403),
        (True, None, 403),
        (False, "/user/alice/proxy/8000", 403),
    ],
    ids=["hub-marker-this-port", "hub-marker-other-port", "hub-no-marker", "laptop-marker"],
)
def test_the_proxy_marker_is_trusted_only_under_a_hub(
    trusted: bool, context: str | None, status: int
) -> None:
    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    client = TestClient(
        HostGuard(ok, trust_proxy_marker=trusted), base_url="http://hub.example.org:8000"
    )
    headers = {} if context is None else {"X-Forwarded-Context": context}
    assert client.get("/stats", headers=headers).status_code == status


def test_a_hub_is_recognised_by_its_service_prefix() -> None:
    assert running_under_jupyterhub({"JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"})
    assert not running_under_jupyterhub({})


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("LocalHost.:8000", "localhost"),
        ("[::1]:8000", "[::1]"),
        ("[::1]", "[::1]"),
        ("evil.example", "evil.example"),
        ("", ""),
    ],
    ids=["ipv4-port", "case-dot-port", "ipv6-port", "ipv6", "bare-name", "empty"],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize("bad", ["*", "http://lab.example.org", "lab.example.org:80", "Lab", ""])
def test_allowed_hosts_must_be_plain_names(bad: str) -> None:
    with pytest.raises(ValidationError, match="allowed_hosts must list lower-case host names"):
        ServerSettings(allowed_hosts=(bad,))


@pytest.fixture(scope="module")
def guarded() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder(create_app(ServerSettings(**INSTANT), token=TEST_TOKEN))
    with serve_in_thread(recorder) as url:
        yield url, recorder


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_page_on_another_loopback_origin_cannot_start_a_run(
    guarded: tuple[str, Recorder], browser: Any
) -> None:
    url, recorder = guarded
    before = runs_started(url)
    with serve_in_thread(foreign_page(url)) as foreign:
        visit(browser, foreign.replace("127.0.0.1", "localhost") + "/", recorder, requests=4)
    streams = recorder.run_statuses()
    assert len(streams) >= 4, f"the page's requests did not reach the server: {recorder.seen}"
    assert set(streams) == {403}
    assert runs_started(url) == before
