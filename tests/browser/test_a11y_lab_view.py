"""The live view in a real JupyterLab, as axe-core and a screen reader meet it.

axe-core runs scoped to the view's own card (JupyterLab's page is not ours to judge)
in every state: not started, streaming, done, stopped and failed, in JupyterLab's
light and dark themes. A MutationObserver counts what the card's live regions say.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.axe import check_state
from tests.support.jupyterlab import LabServer
from tests.support.live_regions import announcements, watch_live_regions
from tests.support.notebook_page import (
    cell,
    lab_with_notebook,
    open_notebook,
    run_cell,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

NOTEBOOK = "a11y_view.ipynb"
THEMES = "lab/user-settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings"

CELLS = [
    # 0: setup
    "from labsupport import MockLLM, achat_stream\nfrom labsupport.view import LiveView, watch",
    # 1: a view not started yet: its first frame
    'LiveView(title="Who runs billing?")',
    # 2: a paced run, read while it streams and once it is done
    "paced = MockLLM(ttft=0.8, tokens_per_second=6, tool_delay=0.6)\n"
    'watch(achat_stream("Who runs billing?", llm=paced), title="Who runs billing?")',
    # 3: a run to stop from the page
    "slow = MockLLM(ttft=0.2, tokens_per_second=4, tool_delay=0.1)\n"
    'watch(achat_stream("Who runs billing?", llm=slow), title="Stop me")',
    # 4: a run whose model fails
    "failing = MockLLM(ttft=0.1, tokens_per_second=20, tool_delay=0.1, fail_after_tokens=3)\n"
    'watch(achat_stream("Who runs billing?", llm=failing), title="This one fails")',
]


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with lab_with_notebook(tmp_path_factory.mktemp("jupyterlab-a11y"), NOTEBOOK, CELLS) as server:
        yield server


def use_theme(lab: LabServer, theme: str) -> None:
    """JupyterLab's theme for pages opened from now on (its user settings file)."""
    path = lab.root.parent / "jupyter" / "config" / THEMES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"theme": theme}))


@pytest.fixture(params=["JupyterLab Light", "JupyterLab Dark"], ids=["light", "dark"])
def page(request: pytest.FixtureRequest, browser: Any, lab: LabServer) -> Iterator[Any]:
    use_theme(lab, request.param)
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.theme = "dark" if "Dark" in request.param else "light"
    open_notebook(page, lab, NOTEBOOK, len(CELLS))
    expected = "true" if page.theme == "light" else "false"
    assert page.get_attribute("body", "data-jp-theme-light") == expected
    yield page
    context.close()


def card_of(page: Any, index: int) -> str:
    """A selector for the card in cell ``index``, once it is drawn."""
    card = cell(page, index).locator(".lsv-card")
    card.wait_for(timeout=30_000)
    card.evaluate("(el, i) => el.setAttribute('data-a11y-card', String(i))", index)
    return f"[data-a11y-card='{index}']"


def wait_status(page: Any, scope: str, pattern: str, timeout: float = 30) -> None:
    page.wait_for_function(
        "([scope, pattern]) => new RegExp(pattern).test("
        "document.querySelector(scope + ' .lsv-status-text')?.textContent || '')",
        arg=[scope, pattern],
        timeout=timeout * 1000,
    )


def check(page: Any, scope: str, state: str) -> None:
    check_state(page, f"lab-view-a11y-{page.theme}-{state}", state, scope)


def test_axe_finds_nothing_in_the_view_in_every_state(page: Any) -> None:
    run_cell(page, 1)
    check(page, card_of(page, 1), "idle")

    run_cell(page, 2)
    scope = card_of(page, 2)
    watch_live_regions(page)
    page.wait_for_function(
        "s => (document.querySelector(s + ' .lsv-answer-text')?.textContent || '').length > 10",
        arg=scope,
        timeout=30_000,
    )
    assert page.get_attribute(f"{scope} .lsv-answer", "aria-busy") == "true"
    check(page, scope, "streaming")
    wait_status(page, scope, "^Done")
    # The status and the answer are two widgets, updated by two messages: wait for the second.
    page.wait_for_selector(f"{scope} .lsv-answer[aria-busy=false]", timeout=5_000)
    check(page, scope, "done")
    said = [s for s in announcements(page) if s]
    answer = page.text_content(f"{scope} .lsv-answer-text") or ""
    # Steps and the end, not the 30 tokens; the answer once, whole.
    assert len(said) <= 6, f"the view's live regions changed {len(said)} times: {said}"
    assert said[-1] == f"Done. The answer: {answer}"

    run_cell(page, 3)
    scope = card_of(page, 3)
    wait_status(page, scope, "^Writing")
    stop = page.locator(f"{scope} .lsv-stop")
    stop.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    wait_status(page, scope, "^Stopped")
    check(page, scope, "stopped")

    run_cell(page, 4)
    scope = card_of(page, 4)
    wait_status(page, scope, "^Failed")
    assert page.get_attribute(f"{scope} .lsv-error-box .lsv-error", "role") == "alert"
    check(page, scope, "error")
