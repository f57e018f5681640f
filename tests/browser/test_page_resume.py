"""The page against a resumable server: a dropped connection ends with the complete answer.

A relay between Chromium and the server cuts the live connection mid-answer,
as a flaky network would. EventSource reconnects by itself with
``Last-Event-ID``; the page's fetch mode does the same by hand. Either way the
server continues the same run, so the answer is whole and nothing is repeated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM, chat_stream
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.lab_url import with_token
from labsupport.server import ServerSettings, create_app
from tests.browser.test_page import MODES, ask, state
from tests.support.browser import save_screenshot
from tests.support.relay import Relay, relay_to
from tests.support.runs import stats

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

QUESTION = "Who runs billing?"
ANSWER = "".join(e.text for e in chat_stream(QUESTION, llm=MockLLM.instant()) if e.type == "token")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    llm = MockLLM(ttft=0.2, tokens_per_second=15, tool_delay=0.2)
    settings = ServerSettings(llm=llm, resumable=True, resume_grace_seconds=10)
    with start_server(create_app(settings), name="browser-resume") as handle:
        yield handle


@pytest.fixture
def relay(server: ServerHandle) -> Iterator[Relay]:
    with relay_to(server.url) as relay:
        yield relay


@pytest.mark.parametrize("mode", MODES)
def test_a_connection_lost_mid_answer_still_ends_with_the_complete_answer(
    server: ServerHandle, relay: Relay, page: Any, mode: str
) -> None:
    before = stats(server)
    ask(page, with_token(f"{relay.url}/", server.token), mode, QUESTION)
    page.wait_for_function("document.getElementById('answer').textContent.length > 20")
    assert relay.cut() > 0
    page.wait_for_function("document.body.dataset.state !== 'running'", timeout=20_000)
    assert state(page) == "finished"
    assert page.text_content("#answer") == ANSWER  # every token once, in order
    assert "resumed 1×" in (page.text_content("#meta") or "")
    after = stats(server)
    assert after["runs_started"] == before["runs_started"] + 1  # the same run, not a new one
    assert after["runs_resumed"] == before["runs_resumed"] + 1
    assert after["runs_completed"] == before["runs_completed"] + 1
    save_screenshot(page, f"page-{mode}-resumed")


@pytest.mark.parametrize("mode", MODES)
def test_stop_cancels_the_run_even_though_the_server_would_wait_for_a_reconnection(
    server: ServerHandle, page: Any, mode: str
) -> None:
    before = stats(server)
    ask(page, server.url_for("/"), mode, QUESTION)
    page.wait_for_function("document.getElementById('answer').textContent.length > 20")
    page.click("#stop")
    deadline = time.monotonic() + 3
    after = stats(server)
    while after["runs_cancelled"] == before["runs_cancelled"] and time.monotonic() < deadline:
        time.sleep(0.05)
        after = stats(server)
    assert after["runs_cancelled"] == before["runs_cancelled"] + 1
    assert after["cancel_requests"] == before["cancel_requests"] + 1
    assert after["runs_parked"] == 0
    tokens = after["tokens_generated"]
    time.sleep(0.3)
    assert stats(server)["tokens_generated"] == tokens  # the spend stopped
