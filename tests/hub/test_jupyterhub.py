"""Lesson 5's page frame on a real JupyterHub, as a hub user sees it in Chromium.

On a hub, a student's JupyterLab lives under ``/user/<name>/`` and the server the
lesson starts in the kernel is reachable only at ``/user/<name>/proxy/<port>/``:
configurable-http-proxy, then the student's jupyter-server-proxy, then the kernel.
Alice logs in through the hub's form, opens lesson 5 from her home folder and
runs it the way a student does, up to its clean-up step (which stops the server
the frame shows). The frame must point under her prefix, show the kit's page and
stream an answer; the stream must arrive event by event through both proxies;
and Bob, logged in too, must be refused Alice's page and stream.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from labsupport import MockLLM, chat_stream
from labsupport.lab_url import split_token
from tests.support.browser import require_chromium, save_screenshot
from tests.support.jupyterhub import Hub, run_jupyterhub

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]

USERS = ("alice", "bob")
LESSON = "05_serving_sse.ipynb"
QUESTION = "Who is on call this week?"
# Spawning a user's server takes about a minute on a busy two-core machine.
SPAWN_MS = 240_000
FRAME = ".jp-OutputArea-output iframe[src*='/proxy/']"
# The code cells' prompts, "[3]:", "[*]:" or "[ ]:", in notebook order.
PROMPTS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')]
    .map(cell => cell.querySelector('.jp-InputPrompt').textContent.trim())"""
# Lengths of the frame's answer as it grows, with the page's own clock: a buffering
# proxy would deliver every token within a few milliseconds.
WATCH_ANSWER_JS = """() => {
    window.answerGrowth = [];
    new MutationObserver(() => window.answerGrowth.push(
        [performance.now(), document.getElementById('answer').textContent.length]
    )).observe(document.getElementById('answer'), {childList: true, subtree: true});
}"""


@dataclass
class Lesson:
    """Alice's lesson 5, run up to its clean-up step, in her logged-in page."""

    page: Any
    frame_src: str  # server.proxy_path: the path, and the lab server's secret as ?token=
    documents: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def expected_answer(question: str) -> str:
    return "".join(
        e.text for e in chat_stream(question, llm=MockLLM.instant()) if e.type == "token"
    )


def log_in(page: Any, hub: Hub, user: str) -> None:
    """Sign in through the hub's own form, the way a person does."""
    page.goto(f"{hub.url}/hub/login")
    page.get_by_label("Username:").fill(user)
    page.get_by_label("Password:").fill(hub.password)
    page.get_by_role("button", name="Sign in").click()
    # Then the hub spawns the server if needed, and JupyterLab opens.
    page.wait_for_url(f"**/user/{user}/lab**", timeout=SPAWN_MS)


def open_notebook(page: Any, name: str) -> None:
    page.locator(".jp-DirListing-itemText", has_text=name).dblclick(timeout=120_000)
    page.wait_for_function(
        "document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length > 10", timeout=120_000
    )
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)


def menu(page: Any, top: str, item: str) -> None:
    page.locator(f".lm-MenuBar-itemLabel:text-is('{top}')").click()
    page.locator(f".lm-Menu-itemLabel:text-is('{item}')").click()


def clean_up_cell(page: Any) -> Any:
    """The lesson's clean-up cell: the first code cell under its "Clean up" heading."""
    cell = page.locator(".jp-MarkdownCell:has(h2:has-text('Clean up')) ~ .jp-CodeCell").first
    assert cell.count() == 1, "lesson 5 has no code cell under a '## Clean up' heading"
    return cell


def run_up_to_clean_up(page: Any) -> None:
    """Run every cell above the clean-up step, as a student who stops there to play."""
    cell = clean_up_cell(page)
    above: int = cell.evaluate(
        "cell => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].indexOf(cell)"
    )
    cell.locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run All Above Selected Cell")
    # The shipped notebook has execution counts already: wait for this run's queue.
    page.wait_for_function(f"({PROMPTS_JS})().includes('[*]:')", timeout=60_000)
    page.wait_for_function(f"!({PROMPTS_JS})().includes('[*]:')", timeout=300_000, polling=500)
    prompts: list[str] = page.evaluate(PROMPTS_JS)
    ran = prompts[:above]
    stderr = page.locator(
        ".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.stderr']"
    ).all_text_contents()
    assert stderr == [], f"cells wrote to stderr or raised: {stderr}"
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in ran), f"cells did not all run: {prompts}"


def proxied(hub: Hub, lesson: Lesson, path: str) -> tuple[str, dict[str, str]]:
    """The URL of ``path`` on Alice's lab server through the hub, and its ``token`` parameter.

    Through the hub two secrets travel: the hub's API token in ``Authorization: token``
    (the hub ignores ``?token=`` by default) and the lab server's own in ``?token=``.
    """
    frame_path, secret = split_token(lesson.frame_src)
    assert secret is not None, f"the frame has no secret: {lesson.frame_src}"
    return f"{hub.url}{frame_path}/{path}", {"token": secret}


def alice_stats(hub: Hub, lesson: Lesson, token: str) -> dict[str, Any]:
    url, secret = proxied(hub, lesson, "stats")
    response = httpx.get(
        url, params=secret, headers={"Authorization": f"token {token}"}, timeout=30
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def redirects(response: Any) -> list[tuple[int, str]]:
    """(status, URL) of every hop a Playwright navigation went through."""
    hops = [(response.status, response.url)]
    request = response.request
    while request.redirected_from is not None:
        request = request.redirected_from
        hops.insert(0, (request.response().status, request.url))
    return hops


def follow(context: Any, url: str, headers: dict[str, str]) -> list[tuple[int, str]]:
    """GET ``url`` with the browser context's cookies, following redirects one hop at a time."""
    hops: list[tuple[int, str]] = []
    for _hop in range(10):
        response = context.request.get(url, headers=headers, max_redirects=0)
        hops.append((response.status, url))
        location = response.headers.get("location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return hops
        url = urljoin(url, location)
    raise AssertionError(f"too many redirects: {hops}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    require_chromium()  # before a minute of spawning, not after
    with run_jupyterhub(tmp_path_factory.mktemp("hub"), USERS) as running:
        running.request_server("bob")  # spawns while Alice logs in
        yield running


@pytest.fixture(scope="module")
def lesson(hub: Hub, browser: Any) -> Iterator[Lesson]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    documents: list[tuple[str, int]] = []
    errors: list[str] = []
    page.on(
        "response",
        lambda r: (
            documents.append((r.url, r.status)) if r.request.resource_type == "document" else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, hub, "alice")
        open_notebook(page, LESSON)
        run_up_to_clean_up(page)
        frames = page.locator(FRAME)
        assert frames.count() == 1, f"expected one frame through the proxy, found {frames.count()}"
        src = frames.get_attribute("src") or ""
        yield Lesson(page, src, documents, errors)
    finally:
        context.close()


def test_frame_points_under_alices_prefix_and_shows_the_kits_page(lesson: Lesson) -> None:
    assert re.fullmatch(r"/user/alice/proxy/\d+/\?token=[A-Za-z0-9_-]{43}", lesson.frame_src), (
        lesson.frame_src
    )
    frame = lesson.page.frame_locator(FRAME)
    frame.locator("#ask").wait_for(timeout=60_000)
    loaded = [status for url, status in lesson.documents if url.endswith(lesson.frame_src)]
    assert loaded == [200], f"the frame's page answered {loaded}: {lesson.documents}"
    assert frame.locator("h1").text_content() == "Kestrel assistant"


def test_frame_streams_the_full_answer(lesson: Lesson) -> None:
    page = lesson.page
    page.locator(FRAME).scroll_into_view_if_needed()
    inner = page.locator(FRAME).element_handle().content_frame()
    inner.evaluate(WATCH_ANSWER_JS)
    inner.locator("#question").fill(QUESTION)
    inner.locator("#ask").click()
    inner.wait_for_function("document.getElementById('answer').textContent.length > 0")
    save_screenshot(page, "hub-lesson05-frame-streaming")
    inner.wait_for_function("document.body.dataset.state !== 'running'", timeout=60_000)
    save_screenshot(page, "hub-lesson05-frame-finished")
    assert inner.evaluate("document.body.dataset.state") == "finished"
    assert inner.locator("#status").text_content() == "Done."
    answer = inner.locator("#answer").text_content()
    assert answer == expected_answer(QUESTION)
    growth: list[list[float]] = inner.evaluate("window.answerGrowth")
    partial = [t for t, n in growth if 0 < n < len(answer)]
    assert len(partial) >= 5, f"the answer arrived in one piece: {growth}"
    assert growth[-1][0] - partial[0] > 200, f"the answer arrived all at once: {growth}"


def test_stream_through_the_hub_arrives_event_by_event(hub: Hub, lesson: Lesson) -> None:
    token = hub.new_token("alice")
    started = time.monotonic()
    url, secret = proxied(hub, lesson, "chat/stream")
    with httpx.stream(
        "GET",
        url,
        params={"message": QUESTION, **secret},
        # jupyter-server-proxy streams only when Accept is exactly text/event-stream.
        headers={"Authorization": f"token {token}", "Accept": "text/event-stream"},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seen = [
            (time.monotonic() - started, line.removeprefix("event: "))
            for line in response.iter_lines()
            if line.startswith("event: ")
        ]
    first, last = seen[0], seen[-1]
    print(f"first event {first[1]} at {first[0]:.3f} s, last {last[1]} at {last[0]:.3f} s")
    assert (first[1], last[1]) == ("status", "done")
    # The lesson's server takes about 0.9 s from first event to last; buffered, ~0.
    assert last[0] - first[0] > 0.5, f"the hub's proxies buffered the stream: {seen}"


def test_bob_is_refused_alices_page_and_stream(hub: Hub, lesson: Lesson, browser: Any) -> None:
    alice_token = hub.new_token("alice")
    before = alice_stats(hub, lesson, alice_token)
    hub.wait_for_server("bob", SPAWN_MS / 1000)
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    try:
        page = context.new_page()
        log_in(page, hub, "bob")
        own = context.request.get(f"{hub.url}/user/bob/api/status")
        assert own.status == 200, "Bob cannot reach his own server"
        # Even knowing Alice's lab secret, Bob does not get past the hub.
        page_url = f"{hub.url}{lesson.frame_src}"
        stream_url = page_url.replace("?", "chat/stream?message=Who+runs+billing%3F&")
        # As his browser would: follow every redirect, keep his cookies.
        refused = page.goto(page_url)
        hops = redirects(refused)
        print("Bob, page, with cookies:", hops)
        save_screenshot(page, "hub-bob-refused")
        assert refused.status == 403, hops
        streamed = follow(context, stream_url, {"Accept": "text/event-stream"})
        print("Bob, stream, with cookies:", streamed)
        assert streamed[-1][0] == 403, streamed
    finally:
        context.close()
    bob_token = hub.new_token("bob")
    for url in (page_url, stream_url):
        response = httpx.get(
            url,
            headers={"Authorization": f"token {bob_token}", "Accept": "text/event-stream"},
            follow_redirects=True,
            timeout=30,
        )
        print(
            "Bob, with his token:", [r.status_code for r in response.history], response.status_code
        )
        assert response.status_code == 403, url
    after = alice_stats(hub, lesson, alice_token)
    assert after["runs_started"] == before["runs_started"], "Bob started a run on Alice's server"
    assert after["active_streams"] == 0


def test_clean_up_cell_stops_the_server_behind_the_frame(hub: Hub, lesson: Lesson) -> None:
    page = lesson.page
    cell = clean_up_cell(page)
    cell.locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run Selected Cell")
    port = split_token(lesson.frame_src)[0].rsplit("/", 1)[1]
    cell.locator(".jp-OutputArea-output", has_text="stopped").wait_for(timeout=60_000)
    assert f":{port}" in (cell.locator(".jp-OutputArea-output").first.text_content() or "")
    token = hub.new_token("alice")
    url, secret = proxied(hub, lesson, "stats")
    gone = httpx.get(url, params=secret, headers={"Authorization": f"token {token}"}, timeout=30)
    assert gone.status_code >= 500, "the lesson's server still answers after its clean-up"
    assert lesson.errors == [], f"JavaScript errors in Alice's JupyterLab: {lesson.errors}"
