"""The server's page as a screen reader and axe-core meet it, in every state, light and dark.

axe-core (the React app's pinned npm package, injected by Playwright) must find no
violation while idle, streaming, finished, stopped and failed; the live regions must
announce the steps and the finished answer, never the tokens one by one.
"""

from __future__ import annotations

from typing import Any

import pytest

from labsupport.kernel_server import ServerHandle
from tests.support.axe import axe_violations, check_state
from tests.support.browser import save_screenshot
from tests.support.live_regions import assert_answer_announced_once, watch_live_regions

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def check_page(page: Any, state: str) -> None:
    check_state(page, f"page-a11y-{page.scheme}-{state}", state)


def wait_state(page: Any, state: str) -> None:
    page.wait_for_selector(f"body[data-state={state}]", timeout=15_000)


def test_axe_finds_nothing_idle_streaming_finished_and_stopped(
    scheme_page: Any, paced_server: ServerHandle
) -> None:
    page = scheme_page
    page.goto(paced_server.url)
    check_page(page, "idle")
    page.click("#ask")
    page.wait_for_function("document.querySelector('#answer').textContent.length > 10")
    assert page.get_attribute("#answer", "aria-busy") == "true"
    check_page(page, "streaming")
    wait_state(page, "finished")
    assert page.get_attribute("#answer", "aria-busy") == "false"
    page.click("#steps summary")
    check_page(page, "finished")
    page.click("#ask")
    page.wait_for_function("document.querySelector('#answer').textContent.length > 10")
    page.click("#stop")
    wait_state(page, "stopped")
    check_page(page, "stopped")


def test_axe_finds_nothing_when_the_run_fails(
    scheme_page: Any, failing_server: ServerHandle
) -> None:
    scheme_page.goto(failing_server.url)
    scheme_page.click("#ask")
    wait_state(scheme_page, "error")
    assert scheme_page.get_attribute("#error", "role") == "alert"
    check_page(scheme_page, "error")


@pytest.mark.parametrize("mode", ["eventsource", "fetch"])
def test_an_answer_is_announced_once_not_token_by_token(
    page: Any, paced_server: ServerHandle, mode: str
) -> None:
    page.goto(paced_server.url)
    page.check(f"#mode-{mode}")
    watch_live_regions(page)
    page.click("#ask")
    wait_state(page, "finished")
    assert_answer_announced_once(page)


def test_stop_is_reached_by_keyboard_and_shows_its_focus(
    page: Any, paced_server: ServerHandle
) -> None:
    page.goto(paced_server.url)
    page.focus("#question")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#answer').textContent.length > 10")
    # Ask is disabled while the run goes, so Tab lands on Stop.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "stop"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    save_screenshot(page, "page-a11y-stop-focused")
    page.keyboard.press("Space")
    wait_state(page, "stopped")


def test_axe_refuses_to_audit_a_refused_request(page: Any, paced_server: ServerHandle) -> None:
    # Without its secret the server answers 401 in JSON: no page, so no "no violations" either.
    page.goto(f"{paced_server.base_url}/stats")
    with pytest.raises(AssertionError, match="axe can audit only an HTML page"):
        axe_violations(page)
