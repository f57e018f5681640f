"""The live view in a real JupyterLab, driven by a real Chromium.

One ``jupyter lab`` server and one notebook for the module. The notebook is
written at test time; each test runs its own cells with Shift+Enter, as a
student would, and reads the card from the page while the kernel streams.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM, chat_stream
from labsupport.longanswer import long_answer
from tests.support.browser import save_screenshot
from tests.support.jupyterlab import LabServer
from tests.support.notebook_page import (
    cell,
    lab_with_notebook,
    open_notebook,
    run_cell,
    wait_for_prompt,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

NOTEBOOK = "live_view.ipynb"
RATE_LIMIT_TEXT = "IOPub message rate exceeded"

CELLS = [
    # 0: setup
    "import asyncio\n"
    "import ipywidgets\n"
    "from labsupport import MockLLM, achat_stream, chat_stream\n"
    "from labsupport.longanswer import LongAnswerLLM\n"
    "from labsupport.view import watch",
    # 1: a paced run whose answer grows over a few seconds
    "paced = MockLLM(ttft=0.8, tokens_per_second=12, tool_delay=0.6)\n"
    'growing = watch(achat_stream("Who runs billing?", llm=paced), title="Who runs billing?")\n'
    "growing",
    # 2: a long paced run, to be stopped from the page
    "slow = LongAnswerLLM(answer_tokens=3000, ttft=0.2, tokens_per_second=20, tool_delay=0.1)\n"
    'stoppable = watch(achat_stream("Tell me about every team", llm=slow), title="Tell me about every team")\n'
    "stoppable",
    # 3: the model's own counters, before and one second after the run ended
    "await stoppable\n"
    "before = slow.tokens_generated\n"
    "await asyncio.sleep(1.0)\n"
    'print(f"outcome={stoppable.outcome} shown={stoppable.state.token_count} "\n'
    '      f"generated={before} generated_1s_later={slow.tokens_generated}")',
    # 4: 10,000 tokens with no pacing at all
    "flood = LongAnswerLLM.instant(answer_tokens=10_000)\n"
    'burst = watch(achat_stream("Tell me about every team", llm=flood), title="10,000 tokens")\n'
    "burst",
    # 5: what the kernel saw of the flood
    "await burst\n"
    'print(f"outcome={burst.outcome} tokens={burst.state.token_count} redraws={burst.redraws}")',
    # 6: the control: one widget update per token, no coalescing
    "naive = ipywidgets.HTML()\n"
    "display(naive)\n"
    'for event in chat_stream("Tell me about every team", llm=LongAnswerLLM.instant(answer_tokens=10_000)):\n'
    '    if event.type == "token":\n'
    "        naive.value = event.text",
]

# Reads one cell's card from the page: what a person would see, as plain text.
READ_CARD = """(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  const card = cell && cell.querySelector('.lsv-card');
  if (!card) return null;
  const text = (selector) => {
    const el = card.querySelector(selector);
    return el ? el.textContent : null;
  };
  return {
    status: text('.lsv-status-text'),
    answer: text('.lsv-answer-text'),
    skeleton: card.querySelector('.lsv-skeleton') !== null,
    tokens: text('.lsv-tokens'),
    t: performance.now() / 1000,
  };
}"""


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    # Depends on `browser` so that a missing Chromium skips before a server is started.
    with lab_with_notebook(tmp_path_factory.mktemp("jupyterlab"), NOTEBOOK, CELLS) as server:
        yield server


@pytest.fixture(scope="module")
def page(browser: Any, lab: LabServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    open_notebook(page, lab, NOTEBOOK, len(CELLS))
    yield page
    context.close()


def read_card(page: Any, index: int) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(READ_CARD, index)
    return result


def watch_card(page: Any, index: int, until: str, timeout: float) -> list[dict[str, Any]]:
    """Snapshots of the card every few milliseconds until its status starts with ``until``."""
    snapshots: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = read_card(page, index)
        if snap is not None:
            snapshots.append(snap)
            if (snap["status"] or "").startswith(until):
                return snapshots
        time.sleep(0.02)
    last = snapshots[-1] if snapshots else None
    raise AssertionError(f"card {index} never reached {until!r}; last seen {last}")


def output_text(page: Any, index: int) -> str:
    text: str = cell(page, index).locator(".jp-OutputArea").inner_text()
    return text


def tokens_shown(snap: dict[str, Any]) -> int:
    match = re.match(r"([\d,]+) tokens? received", snap["tokens"] or "")
    assert match, f"no token counter in {snap}"
    return int(match.group(1).replace(",", ""))


def test_status_shows_before_first_token_and_answer_grows(page: Any) -> None:
    run_cell(page, 1)
    # The first seconds, until the tool call: status line and skeleton, no answer yet.
    snapshots = watch_card(page, 1, until="Searching", timeout=30)
    cell(page, 1).scroll_into_view_if_needed()
    save_screenshot(page, "lab_view_before_first_token")
    snapshots += watch_card(page, 1, until="Done", timeout=30)

    before_answer = [s for s in snapshots if s["answer"] is None]
    assert before_answer, "the answer was already there when the card appeared"
    assert all(s["skeleton"] for s in before_answer)
    statuses = {s["status"] for s in before_answer}
    assert "Searching the knowledge base…" in statuses, statuses

    answers = [s["answer"] for s in snapshots if s["answer"]]
    distinct = list(dict.fromkeys(answers))
    assert len(distinct) >= 5, f"only {len(distinct)} distinct answer snapshots"
    for shorter, longer in itertools.pairwise(distinct):
        assert longer.startswith(shorter) and len(longer) > len(shorter)
    expected = "".join(
        e.text for e in chat_stream("Who runs billing?", llm=MockLLM.instant()) if e.type == "token"
    )
    assert distinct[-1] == expected
    cell(page, 1).scroll_into_view_if_needed()
    save_screenshot(page, "lab_view_done")


def test_stop_freezes_answer_within_one_second_and_spending_stops(page: Any) -> None:
    run_cell(page, 2)
    deadline = time.monotonic() + 30
    while True:
        snap = read_card(page, 2)
        if snap is not None and snap["answer"] and tokens_shown(snap) >= 15:
            break
        assert time.monotonic() < deadline, f"the run never got to 15 tokens: {snap}"
        time.sleep(0.02)

    cell(page, 2).locator(".lsv-stop").click()
    clicked = time.monotonic()
    changes = []  # (seconds after the click, answer) each time the answer changed
    last_answer = read_card(page, 2)["answer"]  # type: ignore[index]
    while time.monotonic() - clicked < 2.5:
        answer = read_card(page, 2)["answer"]  # type: ignore[index]
        if answer != last_answer:
            changes.append((time.monotonic() - clicked, answer))
            last_answer = answer
        time.sleep(0.02)
    assert all(after <= 1.0 for after, _ in changes), f"the answer still changed at {changes}"

    final = read_card(page, 2)
    assert final is not None
    assert final["status"].startswith("Stopped after")
    shown = tokens_shown(final)
    assert final["status"] == f"Stopped after {shown} tokens"
    assert len(final["answer"]) > 0

    run_cell(page, 3)
    wait_for_prompt(page, 3)
    printed = output_text(page, 3)
    match = re.search(
        r"outcome=(\w+) shown=(\d+) generated=(\d+) generated_1s_later=(\d+)", printed
    )
    assert match, printed
    outcome, kernel_shown, generated, later = match.groups()
    assert outcome == "cancelled"
    # What the page shows, what the kernel holds and what the model produced agree, and stay put.
    assert int(kernel_shown) == shown
    assert int(generated) == shown
    assert int(later) == int(generated)
    assert shown < 3000
    cell(page, 2).scroll_into_view_if_needed()
    save_screenshot(page, "lab_view_stopped")


def test_ten_thousand_unpaced_tokens_end_with_exact_text_and_no_rate_limit(
    page: Any, lab: LabServer
) -> None:
    run_cell(page, 4)
    watch_card(page, 4, until="Done", timeout=60)
    final = read_card(page, 4)
    assert final is not None
    assert tokens_shown(final) == 10_000
    assert final["answer"] == long_answer(10_000)

    run_cell(page, 5)
    wait_for_prompt(page, 5)
    printed = output_text(page, 5)
    match = re.search(r"outcome=(\w+) tokens=(\d+) redraws=(\d+)", printed)
    assert match, printed
    assert match.group(1) == "finished"
    assert int(match.group(2)) == 10_000
    assert int(match.group(3)) < 100

    assert RATE_LIMIT_TEXT not in page.locator(".jp-Notebook").inner_text()
    assert RATE_LIMIT_TEXT not in lab.log()
    save_screenshot(page, "lab_view_flood")


def test_control_one_update_per_token_does_hit_the_rate_limit(page: Any) -> None:
    # Proves the previous test's check can fail: the same flood without coalescing trips it.
    run_cell(page, 6)
    # Not waiting for the prompt: with messages dropped, the page may never see the cell end.
    deadline = time.monotonic() + 60
    while RATE_LIMIT_TEXT not in output_text(page, 6):
        assert time.monotonic() < deadline, f"no rate-limit message: {output_text(page, 6)!r}"
        time.sleep(0.1)
    save_screenshot(page, "lab_view_control_rate_limit")
