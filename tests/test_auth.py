"""The per-server secret: refused without it, through a real uvicorn, another OS user and Chromium."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from labsupport import MockLLM
from labsupport.auth import TokenGuard, check_token, new_token
from labsupport.client import stream_events
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.lab_url import with_token
from labsupport.nginx import find_nginx, start_nginx
from labsupport.server import ServerSettings, app_token, create_app
from tests.support.browser import save_screenshot
from tests.support.dialect_bodies import agui_body
from tests.support.endpoints import COMPLETION, WORK, WORK_IDS
from tests.support.foreign_page import Recorder, foreign_page, visit
from tests.support.net import free_port
from tests.support.other_user import other_user
from tests.support.process_server import serve_in_process
from tests.support.runs import INSTANT
from tests.support.secret import TEST_TOKEN, auth
from tests.support.uvicorn_thread import serve_in_thread

QUESTION = "Who runs billing?"


def _sync_asgi(app: Any) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.mark.parametrize(("method", "path", "args"), WORK, ids=WORK_IDS)
def test_without_the_secret_every_endpoint_that_works_answers_401_saying_where(
    method: str, path: str, args: dict[str, Any]
) -> None:
    app = create_app(ServerSettings(**INSTANT))
    with _sync_asgi(app) as http:
        missing = http.request(method, path, **args)
        wrong = http.request(
            method, path, headers={"Authorization": f"Bearer {new_token()}"}, **args
        )
        right = http.request(method, path, headers=auth(app), **args)
        stats = http.get("/stats", headers=auth(app)).json()
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "server.url" in missing.json()["detail"] and "LAB_TOKEN" in missing.json()["detail"]
    assert wrong.status_code == 403
    assert "new one is made on every start" in wrong.json()["detail"]
    assert right.status_code not in (401, 403)
    assert stats["runs_started"] == (1 if path in ("/chat/stream", "/ag-ui", "/api/chat") else 0)


def test_the_v1_refusal_is_in_openai_error_shape_too() -> None:
    with _sync_asgi(create_app(ServerSettings(**INSTANT))) as http:
        body = http.post("/v1/chat/completions", json=COMPLETION).json()
    assert body["error"]["code"] == "missing_api_key"
    assert body["error"]["message"] == body["detail"]


def test_the_secret_in_the_query_works_and_is_cut_out_before_the_app_sees_it() -> None:
    seen: list[str] = []
    router = APIRouter()

    @router.get("/echo")
    async def echo(request: Request) -> dict[str, str]:
        seen.append(str(request.url))
        return {"query": request.url.query}

    app = create_app(ServerSettings(**INSTANT), routers=[router])
    token = app_token(app)
    assert token is not None
    with _sync_asgi(app) as http:
        response = http.get(f"/echo?a=1&token={token}&b=2")
    assert response.status_code == 200
    assert response.json() == {"query": "a=1&b=2"}
    assert token not in seen[0]


@pytest.mark.parametrize("path", ["/", "/docs", "/openapi.json"])
def test_the_page_and_the_docs_open_without_the_secret_but_not_with_a_wrong_one(path: str) -> None:
    with _sync_asgi(create_app(ServerSettings(**INSTANT))) as http:
        assert http.get(path).status_code == 200
        assert http.get(f"{path}?token={new_token()}").status_code == 403


def test_the_page_is_served_without_a_referrer() -> None:
    with _sync_asgi(create_app(ServerSettings(**INSTANT))) as http:
        page = http.get("/")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'new URLSearchParams(location.search).get("token")' in page.text


def test_every_app_makes_its_own_secret_and_shows_it_nowhere() -> None:
    first, second = create_app(), create_app()
    assert app_token(first) != app_token(second)
    assert len(app_token(first) or "") == 43
    guard = TokenGuard(first, token=new_token())
    assert "token='****'" in repr(guard)


@pytest.mark.parametrize(
    "bad", ["short", "é" * 20, "tab\there" * 3], ids=["short", "non-ascii", "tab"]
)
def test_a_given_secret_must_be_long_printable_ascii(bad: str) -> None:
    with pytest.raises(ValueError, match="at least 16 printable ASCII"):
        create_app(token=bad)
    assert check_token("a" * 16) == "a" * 16


def test_off_means_off_and_a_token_with_it_is_a_mistake() -> None:
    open_app = create_app(ServerSettings(**INSTANT, require_token=False))
    assert app_token(open_app) is None
    with _sync_asgi(open_app) as http:
        assert http.get("/stats").status_code == 200
    with pytest.raises(ValueError, match="require_token is False"):
        create_app(ServerSettings(require_token=False), token=new_token())


def test_uvicorns_access_log_never_prints_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(ServerSettings(**INSTANT), token=TEST_TOKEN)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"), serve_in_thread(app) as url:
        ok = httpx.get(with_token(f"{url}/stats", TEST_TOKEN), timeout=10)
        wrong = httpx.get(with_token(f"{url}/stats", TEST_TOKEN[::-1]), timeout=10)
    assert (ok.status_code, wrong.status_code) == (200, 403)
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) >= 2, "uvicorn's access log was not on"
    assert not any(TEST_TOKEN in line or TEST_TOKEN[::-1] in line for line in lines)


# -- a second user of this machine --------------------------------------------------------------


@pytest.fixture(scope="module")
def student() -> Iterator[ServerHandle]:
    """The student's server as a lesson starts it: in this process, paced, on loopback."""
    llm = MockLLM(ttft=0.0, tokens_per_second=20.0, tool_delay=0.0)
    with start_server(settings=ServerSettings(llm=llm), name="test_auth-student") as server:
        yield server


def test_another_user_cannot_start_read_or_cancel_the_students_runs(student: ServerHandle) -> None:
    base = student.base_url
    with other_user() as intruder:
        # The student's run, in progress while the other user tries it.
        events = stream_events(student.url, QUESTION, cancel_on_close=False)
        first = next(events)
        run_id = first.run_id
        guess = new_token()
        tries = {
            "start (POST)": intruder.http_status(
                "POST",
                f"{base}/chat/stream",
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps({"message": QUESTION}),
            ),
            "start (GET)": intruder.http_status("GET", f"{base}/chat/stream?message=hi"),
            "read /stats": intruder.http_status("GET", f"{base}/stats"),
            "cancel": intruder.http_status("POST", f"{base}/runs/{run_id}/cancel"),
            "resume": intruder.http_status(
                "POST",
                f"{base}/chat/stream",
                "-H",
                f"Last-Event-ID: {run_id}:0",
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps({"message": QUESTION}),
            ),
            "openai SDK": intruder.http_status(
                "POST",
                f"{base}/v1/chat/completions",
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps(COMPLETION),
            ),
            "AG-UI": intruder.http_status(
                "POST",
                f"{base}/ag-ui",
                "-H",
                "Content-Type: application/json",
                "-d",
                json.dumps(agui_body(QUESTION)),
            ),
            "guessed ?token=": intruder.http_status("GET", f"{base}/stats?token={guess}"),
            "guessed Bearer": intruder.http_status(
                "POST", f"{base}/runs/{run_id}/cancel", "-H", f"Authorization: Bearer {guess}"
            ),
        }
        rest = list(events)
        stats = httpx.get(student.url_for("/stats"), timeout=10).json()
    assert tries == {
        **{what: 401 for what in tries},
        "guessed ?token=": 403,
        "guessed Bearer": 403,
    }
    assert rest[-1].type == "done", "the student's run went on to the end"
    assert stats["runs_started"] == 1 and stats["cancel_requests"] == 0
    assert stats["runs_cancelled"] == 0 and stats["tokens_generated"] == 30


def test_the_secret_is_in_nothing_another_user_can_read(student: ServerHandle) -> None:
    token = student.token
    assert token is not None
    with other_user() as intruder, serve_in_process(dict(INSTANT)) as (_, child):
        # This process holds the secret in memory and $LAB_TOKEN; its environment is closed.
        own_environ = intruder.run(["/bin/cat", f"/proc/{os.getpid()}/environ"])
        child_environ = intruder.run(["/bin/cat", f"/proc/{child}/environ"])
        child_cmdline = intruder.run(["/bin/cat", f"/proc/{child}/cmdline"])
        nginx_cmdlines: list[str] = []
        if find_nginx() is not None:
            with start_nginx(student.url, name="test_auth") as proxy:
                workdir_mode = proxy.workdir.stat().st_mode & 0o777
                listing = intruder.run(["/bin/ls", str(proxy.workdir)])
                on_disk = [
                    p.read_text(errors="replace") for p in proxy.workdir.rglob("*") if p.is_file()
                ]
                for pid in _children_named("nginx"):
                    nginx_cmdlines.append(intruder.run(["/bin/cat", f"/proc/{pid}/cmdline"]).stdout)
            assert workdir_mode == 0o700 and listing.returncode != 0
            assert not any(token in text for text in on_disk)
            assert nginx_cmdlines and not any(token in line for line in nginx_cmdlines)
    assert own_environ.returncode != 0 and "Permission denied" in own_environ.stderr
    assert child_environ.returncode != 0
    assert child_cmdline.returncode == 0 and "labsupport" in child_cmdline.stdout
    assert TEST_TOKEN not in child_cmdline.stdout  # the child got its secret in $LAB_TOKEN


def _children_named(name: str) -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True) if p.name() == name]


# -- a foreign page in Chromium ---------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_page_the_host_guard_lets_through_still_cannot_start_a_run(browser: Any) -> None:
    # The foreign page's origin is in cors_origins (as JupyterLab's own 127.0.0.1:8888 is by
    # default): Host and cross-site checks let it through, so only the secret stops it.
    foreign_port = free_port()
    foreign_origin = f"http://localhost:{foreign_port}"
    settings = ServerSettings(**INSTANT, cors_origins=(foreign_origin,))
    recorder = Recorder(create_app(settings, token=TEST_TOKEN))
    with serve_in_thread(recorder) as lab_url:
        stats_before = httpx.get(with_token(f"{lab_url}/stats", TEST_TOKEN)).json()
        with serve_in_thread(foreign_page(lab_url, post=True), port=foreign_port):
            visit(browser, f"{foreign_origin}/", recorder, requests=5)
        stats_after = httpx.get(with_token(f"{lab_url}/stats", TEST_TOKEN)).json()
    streams = recorder.run_statuses()
    assert len(streams) >= 5, f"the page's requests did not reach the server: {recorder.seen}"
    # <img> and no-cors fetch send no Origin: the host guard refuses them (403). EventSource,
    # the CORS fetch and the POST come from a listed origin: only the secret refuses them.
    assert set(streams) <= {401, 403} and streams.count(401) >= 3, recorder.seen
    assert stats_after["runs_started"] == stats_before["runs_started"]


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["eventsource", "fetch"])
def test_the_kits_own_page_works_with_the_secret_from_its_url(
    browser: Any, student: ServerHandle, mode: str
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(student.url)
        page.fill("#question", QUESTION)
        page.check(f"#mode-{mode}")
        page.click("#ask")
        page.wait_for_function("document.body.dataset.state === 'finished'", timeout=30_000)
        assert "Dana Okafor" in (page.text_content("#answer") or "")
        save_screenshot(page, f"secret-own-page-{mode}")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_the_page_without_its_secret_says_where_to_get_it(
    browser: Any, student: ServerHandle
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{student.base_url}/")
        page.check("#mode-eventsource")
        page.click("#ask")
        page.wait_for_function("document.body.dataset.state === 'error'", timeout=30_000)
        shown = page.text_content("body") or ""
        save_screenshot(page, "secret-page-without-token")
    finally:
        context.close()
    assert "open it from server.url" in shown
