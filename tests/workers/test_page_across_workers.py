"""The stock page in Chromium, its EventSource resuming on another worker behind nginx.

Chromium loads the page through a relay in front of nginx; the relay cuts the
live stream mid-answer, EventSource reconnects by itself with ``Last-Event-ID``,
and nginx's round robin hands the reconnection to the other worker, which reads
the rest of the run from Redis. The page must show the whole answer once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from labsupport import MockLLM, chat_stream
from labsupport.redis_server import RedisServer
from labsupport.workers import Workers
from tests.browser.test_page import ask, state
from tests.support.browser import save_screenshot
from tests.support.relay import Relay, relay_to
from tests.support.secret import AUTH, TEST_TOKEN
from tests.workers.conftest import workers_on

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

QUESTION = "Who runs billing?"
ANSWER = "".join(e.text for e in chat_stream(QUESTION, llm=MockLLM.instant()) if e.type == "token")


@pytest.fixture(scope="module")
def paced(redis: RedisServer) -> Iterator[Workers]:
    # Slow enough to cut the stream mid-answer.
    with workers_on(redis, "tests-workers-page", tokens_per_second=15.0, ttft=0.2) as workers:
        yield workers


@pytest.fixture
def relay(paced: Workers) -> Iterator[Relay]:
    with relay_to(paced.url) as relay:
        yield relay


def per_worker(workers: Workers, key: str) -> list[int]:
    return [httpx.get(f"{url}/stats", headers=AUTH).json()[key] for url in workers.worker_urls]


def test_eventsource_resumes_on_the_other_worker_with_the_whole_answer(
    paced: Workers, relay: Relay, page: Any
) -> None:
    started, resumed = per_worker(paced, "runs_started"), per_worker(paced, "runs_resumed")
    ask(page, f"{relay.url}/?token={TEST_TOKEN}", "eventsource", QUESTION)
    page.wait_for_function("document.getElementById('answer').textContent.length > 20")
    assert relay.cut() > 0
    page.wait_for_function("document.body.dataset.state !== 'running'", timeout=20_000)
    assert state(page) == "finished"
    assert page.text_content("#answer") == ANSWER  # every token once, in order
    assert "resumed 1×" in (page.text_content("#meta") or "")
    new_starts = [a - b for a, b in zip(per_worker(paced, "runs_started"), started, strict=True)]
    new_resumes = [a - b for a, b in zip(per_worker(paced, "runs_resumed"), resumed, strict=True)]
    assert sorted(new_starts) == [0, 1] and sorted(new_resumes) == [0, 1]
    assert new_starts.index(1) != new_resumes.index(1)  # started on one, resumed on the other
    save_screenshot(page, "page-eventsource-resumed-on-another-worker")
