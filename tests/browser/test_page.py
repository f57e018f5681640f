"""The server's page in a real Chromium: the answer streams in both modes, and Stop stops the run."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from labsupport import DoneEvent, Event, ThoughtEvent, TokenEvent
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.server import create_app
from tests.support.agents import FunctionAgent
from tests.support.browser import save_screenshot
from tests.support.runs import stats

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

MODES = ["eventsource", "fetch"]


def state(page: Any) -> str:
    result: str = page.evaluate("document.body.dataset.state")
    return result


def ask(page: Any, url: str, mode: str, question: str = "Who runs billing?") -> None:
    page.goto(url)
    page.check(f"#mode-{mode}")
    page.fill("#question", question)
    page.click("#ask")


def watch_answer(page: Any, seconds: float) -> list[int]:
    """Answer lengths sampled while the run is going."""
    lengths: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and state(page) == "running":
        lengths.append(len(page.text_content("#answer") or ""))
        page.wait_for_timeout(50)
    return lengths


@pytest.mark.parametrize("mode", MODES)
def test_answer_streams_progressively_then_the_run_finishes(
    paced_server: ServerHandle, page: Any, mode: str
) -> None:
    ask(page, paced_server.url_for("/"), mode)
    lengths = watch_answer(page, 15)
    page.wait_for_function("document.body.dataset.state !== 'running'", timeout=5000)
    final = page.text_content("#answer") or ""
    partial = {n for n in lengths if 0 < n < len(final)}
    assert state(page) == "finished"
    assert "Dana Okafor leads the Payments team" in final
    assert len(partial) >= 5, f"the answer did not grow token by token: {lengths}"
    assert page.text_content("#status") == "Done."
    assert page.text_content("#step-count") == "6"
    assert page.locator("#sources li").all_text_contents() == [
        "D1Payments team",
        "D3Dana Okafor",
    ]
    assert page.text_content("#cost") == "107 prompt + 30 completion tokens · $0.000098"
    page.click("#steps summary")
    save_screenshot(page, f"page-{mode}-finished")


def test_eventsource_is_closed_on_done_so_the_browser_does_not_ask_again(
    paced_server: ServerHandle, page: Any
) -> None:
    # EventSource reconnects after a normal end of stream too (Chromium waits 3 s by default);
    # only close() on `done` keeps it from requesting the answer again.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    ask(page, paced_server.url_for("/"), "eventsource")
    page.wait_for_function("document.body.dataset.state !== 'running'", timeout=15000)
    assert state(page) == "finished"
    page.wait_for_timeout(4500)
    streams = [url for url in requests if "/chat/stream" in url]
    assert len(streams) == 1, f"the page asked again after done: {streams}"


@pytest.mark.parametrize("mode", MODES)
def test_stop_freezes_the_answer_and_the_server_cancels_the_run(
    paced_server: ServerHandle, page: Any, mode: str
) -> None:
    before = stats(paced_server)
    ask(page, paced_server.url_for("/"), mode)
    page.wait_for_function("document.getElementById('answer').textContent.length > 20")
    page.click("#stop")
    stopped_at = page.text_content("#answer") or ""
    page.wait_for_timeout(600)
    assert state(page) == "stopped"
    assert page.text_content("#answer") == stopped_at
    assert page.is_enabled("#ask") and not page.is_enabled("#stop")
    deadline = time.monotonic() + 2
    after = stats(paced_server)
    while after["active_streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
        after = stats(paced_server)
    assert after["runs_cancelled"] == before["runs_cancelled"] + 1
    assert after["active_streams"] == 0
    save_screenshot(page, f"page-{mode}-stopped")


def test_refused_request_shows_the_servers_reason_in_fetch_mode(
    paced_server: ServerHandle, page: Any
) -> None:
    page.goto(paced_server.url_for("/"))
    page.check("#mode-fetch")
    # Beyond the input's maxlength, set through the DOM as a script would.
    page.evaluate("document.getElementById('question').value = 'x'.repeat(2001)")
    page.click("#ask")
    page.wait_for_function("document.body.dataset.state === 'error'")
    assert page.text_content("#error") == (
        "422: field 'message' is 2001 characters long; the limit is 2000 characters"
    )


async def html_agent(message: str, **kwargs: Any) -> AsyncIterator[Event]:
    run_id = kwargs["run_id"]
    markup = "<img src=x onerror=\"document.title='pwned'\">"
    yield ThoughtEvent(run_id=run_id, seq=0, text=markup)
    yield TokenEvent(run_id=run_id, seq=1, text=markup)
    yield DoneEvent(run_id=run_id, seq=2)


@pytest.mark.parametrize("mode", MODES)
def test_model_text_is_shown_as_text_never_as_html(page: Any, mode: str) -> None:
    app = create_app(agent=FunctionAgent(html_agent))
    with start_server(app, name="browser-page-html") as server:
        ask(page, server.url_for("/"), mode)
        page.wait_for_function("document.body.dataset.state === 'finished'")
        assert page.locator("img").count() == 0
        assert page.text_content("#answer") == "<img src=x onerror=\"document.title='pwned'\">"
        assert page.title() != "pwned"
