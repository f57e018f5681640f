"""The React app (frontends/react) in a real Chromium, against a real lab server.

Built with ``vite build`` from the sources, served by ``vite preview`` whose proxy
passes ``/api/chat``, ``/runs`` and ``/stats`` to the lab server on loopback.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from labsupport import MockLLM
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.server import ServerSettings, create_app
from tests.support.axe import check_state
from tests.support.browser import save_screenshot
from tests.support.live_regions import assert_answer_announced_once, watch_live_regions
from tests.support.net import free_port
from tests.support.react_app import APP, VITE, build_app, serve_app
from tests.support.relay import relay_to
from tests.support.runs import stats

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ANSWER = "Dana Okafor leads the Payments team"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_app(tmp_path_factory.mktemp("react-dist"))


@pytest.fixture(scope="module")
def app(dist: Path, paced_server: ServerHandle) -> Iterator[str]:
    with serve_app(dist, paced_server.base_url, token=paced_server.token) as url:
        yield url


def phase(page: Any) -> str:
    result: str = page.evaluate("document.querySelector('main').dataset.phase")
    return result


def ask(page: Any, app: str, question: str = "Who runs billing?") -> None:
    page.goto(app)
    page.wait_for_selector("main[data-phase=idle]")
    page.fill("#question", question)
    page.click("#ask")


def test_question_streams_steps_then_tokens_then_sources_and_cost(page: Any, app: str) -> None:
    ask(page, app)
    page.wait_for_selector("main[data-phase=streaming]", timeout=10_000)
    lengths: list[int] = []
    while phase(page) == "streaming":
        lengths.append(len(page.text_content("#answer") or ""))
        page.wait_for_timeout(50)
    assert phase(page) == "done"
    final = page.text_content("#answer") or ""
    assert ANSWER in final
    partial = {n for n in lengths if 0 < n < len(final)}
    assert len(partial) >= 5, f"the answer did not grow token by token: {lengths}"
    assert page.text_content("#status") == f"Done. The answer: {final}"
    assert page.locator("#thinking li").all_text_contents() == [
        "thought I will search the knowledge base for 'runs billing'.",
        'tool search_kb({"query":"runs billing","k":3}) → D1, D3, D7',
    ]
    # The panel folded when the answer started.
    assert page.evaluate("document.querySelector('#thinking').open") is False
    assert page.locator("#sources li").all_text_contents() == ["D1 Payments team", "D3 Dana Okafor"]
    assert page.text_content("#cost") == "107 prompt + 30 completion tokens · $0.000098"
    save_screenshot(page, "react-done")


def test_stop_by_keyboard_freezes_the_text_and_cancels_the_run(
    page: Any, app: str, paced_server: ServerHandle
) -> None:
    before = stats(paced_server)
    page.goto(app)
    page.wait_for_selector("main[data-phase=idle]")
    page.focus("#question")
    page.keyboard.press("Enter")
    page.wait_for_function("(document.querySelector('#answer')?.textContent || '').length > 20")
    # Ask is disabled while running, so Tab goes from the question straight to Stop.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "stop"
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid", f"Stop has no visible focus ring: outline-style {ring}"
    save_screenshot(page, "react-stop-focused")
    page.keyboard.press("Enter")
    page.wait_for_selector("main[data-phase=stopped]")
    frozen = page.text_content("#answer")
    page.wait_for_timeout(1000)
    assert page.text_content("#answer") == frozen
    assert frozen is not None and ANSWER not in frozen
    assert page.text_content("#status") == "Stopped."
    deadline = time.monotonic() + 5
    while (
        stats(paced_server)["runs_cancelled"] == before["runs_cancelled"]
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    after = stats(paced_server)
    assert after["runs_cancelled"] == before["runs_cancelled"] + 1
    assert after["runs_completed"] == before["runs_completed"]
    save_screenshot(page, "react-stopped")


def test_live_regions_announce_steps_and_the_answer_once_not_tokens(page: Any, app: str) -> None:
    page.goto(app)
    page.wait_for_selector("main[data-phase=idle]")
    watch_live_regions(page)
    page.click("#ask")
    page.wait_for_selector("main[data-phase=done]", timeout=15_000)
    assert_answer_announced_once(page)


@pytest.fixture(scope="module")
def failing_app(dist: Path, failing_server: ServerHandle) -> Iterator[str]:
    """The app in front of a lab server whose model fails after four tokens."""
    with serve_app(dist, failing_server.base_url, token=failing_server.token) as url:
        yield url


def test_a_failed_run_shows_an_alert(page: Any, failing_app: str) -> None:
    ask(page, failing_app)
    page.wait_for_selector("main[data-phase=error]", timeout=15_000)
    assert page.get_attribute("#error", "role") == "alert"
    assert (page.text_content("#error") or "").startswith("model_error: ")
    assert page.text_content("#status") == "Failed."
    save_screenshot(page, "react-error")


# -- axe in every state, light and dark ------------------------------------------------


def check_app(page: Any, state: str) -> None:
    check_state(page, f"react-{page.scheme}-{state}", state)


def test_axe_finds_nothing_in_idle_waiting_streaming_done_and_stopped(
    scheme_page: Any, app: str
) -> None:
    page = scheme_page
    page.goto(app)
    page.wait_for_selector("main[data-phase=idle]")
    check_app(page, "idle")
    page.click("#ask")
    page.wait_for_selector("main[data-phase=waiting] .skeleton")
    check_app(page, "waiting")
    page.wait_for_selector("main[data-phase=streaming]", timeout=10_000)
    assert page.get_attribute("#answer", "aria-busy") == "true"
    check_app(page, "streaming")
    page.wait_for_selector("main[data-phase=done]", timeout=15_000)
    assert page.get_attribute("#answer", "aria-busy") == "false"
    check_app(page, "done")
    page.click("#ask")
    page.wait_for_selector("main[data-phase=streaming]", timeout=10_000)
    page.click("#stop")
    page.wait_for_selector("main[data-phase=stopped]")
    check_app(page, "stopped")


def test_axe_finds_nothing_in_the_error_state(scheme_page: Any, failing_app: str) -> None:
    ask(scheme_page, failing_app)
    scheme_page.wait_for_selector("main[data-phase=error]", timeout=15_000)
    check_app(scheme_page, "error")


def skeleton_animation(browser: Any, app: str, reduced_motion: str) -> str:
    """The skeleton's CSS animation name, read the moment it shows, in one step."""
    context = browser.new_context(reduced_motion=reduced_motion)
    page = context.new_page()
    try:
        page.goto(app)
        page.click("#ask")
        name: str = page.wait_for_function(
            """() => {
                const bar = document.querySelector('.skeleton span');
                return bar && getComputedStyle(bar).animationName;
            }"""
        ).json_value()
        page.wait_for_selector("main[data-phase=done]", timeout=15_000)
        return name
    finally:
        context.close()


def test_the_skeleton_stands_still_under_reduced_motion(browser: Any, app: str) -> None:
    assert skeleton_animation(browser, app, "no-preference") == "shimmer"
    assert skeleton_animation(browser, app, "reduce") == "none"


@contextmanager
def header_recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A stand-in lab server that records each request's headers and answers 200."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


@pytest.mark.parametrize("token", [None, "s3cret-for-this-server"], ids=["no-token", "token"])
def test_the_proxy_sends_the_lab_token_only_when_there_is_one(
    dist: Path, token: str | None
) -> None:
    with header_recorder() as (lab_url, seen), serve_app(dist, lab_url, token=token) as url:
        assert httpx.post(f"{url}/runs/run_0123456789ab/cancel").status_code == 200
        assert httpx.post(f"{url}/api/chat", json={}).status_code == 200
    expected = f"Bearer {token}" if token else None
    assert [headers.get("authorization") for headers in seen] == [expected, expected]


def test_vite_refuses_a_lab_url_that_carries_the_secret(dist: Path) -> None:
    # A handle's url has ?token=...: as the proxy's target it would leak and not authenticate.
    secret = "s3cret-that-must-not-be-printed"
    env = {**os.environ, "LAB_SERVER_URL": f"http://127.0.0.1:9/?token={secret}"}
    done = subprocess.run(
        [str(VITE), "preview", "--outDir", str(dist), "--port", str(free_port())],
        cwd=APP,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert "LAB_SERVER_URL must be the lab server's address alone" in said, said
    assert "put the secret in LAB_TOKEN" in said
    assert secret not in said


# -- a dropped connection ----------------------------------------------------------------


@pytest.fixture(scope="module")
def resumable_lab() -> Iterator[ServerHandle]:
    llm = MockLLM(ttft=0.3, tokens_per_second=15, tool_delay=0.3)
    app = create_app(ServerSettings(llm=llm, resumable=True))
    with start_server(app, name="react-resumable") as handle:
        yield handle


@pytest.mark.parametrize("resumable", [True, False], ids=["resumable", "not-resumable"])
def test_a_dropped_connection_resumes_when_the_server_keeps_the_run(
    page: Any, dist: Path, paced_server: ServerHandle, resumable_lab: ServerHandle, resumable: bool
) -> None:
    server = resumable_lab if resumable else paced_server
    before = stats(server)
    # The relay sits between the browser and Vite: cutting it is the browser's network dropping.
    with serve_app(dist, server.base_url, token=server.token) as url, relay_to(url) as relay:
        ask(page, f"{relay.url}/")
        page.wait_for_function("(document.querySelector('#answer')?.textContent || '').length > 20")
        assert relay.cut() > 0
        page.wait_for_selector("main:is([data-phase=done], [data-phase=error])", timeout=20_000)
        after = stats(server)
        assert after["runs_started"] == before["runs_started"] + 1  # no second run
        if resumable:
            assert phase(page) == "done"
            assert ANSWER in (page.text_content("#answer") or "")
            assert page.locator("#sources li").count() == 2
            assert page.text_content("#cost") == "107 prompt + 30 completion tokens · $0.000098"
            assert after["runs_resumed"] == before["runs_resumed"] + 1
            assert after["runs_completed"] == before["runs_completed"] + 1
            save_screenshot(page, "react-resumed")
        else:
            assert phase(page) == "error"
            assert "could not resume" in (page.text_content("#error") or "")
            assert after["runs_cancelled"] == before["runs_cancelled"] + 1
            save_screenshot(page, "react-not-resumed")


def test_a_second_question_starts_from_a_clean_slate(page: Any, app: str) -> None:
    ask(page, app)
    page.wait_for_selector("main[data-phase=done]", timeout=15_000)
    page.fill("#question", "Who is on call this week?")
    page.click("#ask")
    # Until its first chunk the new question shows the skeleton, not the last answer.
    page.wait_for_selector("main[data-phase=waiting] .skeleton")
    assert page.locator("#answer").count() == 0
    assert page.text_content("#cost") == "–"
    page.wait_for_selector("main[data-phase=done]", timeout=15_000)
    assert ANSWER not in (page.text_content("#answer") or "")
