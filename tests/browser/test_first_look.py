"""A lesson opened before it is run, in a real JupyterLab: its widget views are drawn.

Students open a lesson and read it before running anything; instructors skim
it the day before. The committed notebooks carry their outputs and the saved
widget state (``tools/build_notebooks.py``), so the live view's card, the
buttons and the text boxes are drawn as they ended, not shown as
``LiveView(...)`` or "Error displaying widget". Nothing is run here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import save_screenshot
from tests.support.jupyterlab import LabServer, run_jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
VIEW = "application/vnd.jupyter.widget-view+json"


def widget_outputs(path: Path) -> int:
    nb = json.loads(path.read_text())
    return sum(
        VIEW in output.get("data", {}) for cell in nb["cells"] for output in cell.get("outputs", [])
    )


LESSONS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if widget_outputs(p)]

# What the page shows in its output areas: drawn widgets, text reprs, failures.
READ_OUTPUTS = """() => {
  const outputs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];
  const drawn = outputs.filter((o) => o.querySelector('.jupyter-widgets'));
  const texts = outputs.map((o) => o.innerText);
  return {
    drawn: drawn.length,
    cards: document.querySelectorAll('.jp-Notebook .lsv-card').length,
    reprs: texts.filter((t) => /^(LiveView|HTML|Button|VBox|HBox|Label|Accordion)\\(/.test(t.trim())),
    failures: texts.filter((t) => /Error displaying widget|Loading widget/.test(t)),
  };
}"""


def trust(lab: LabServer, path: Path) -> None:
    """Sign a notebook for the lab's user, as ``kit.py lab`` does for the lessons it serves.

    JupyterLab draws widgets only in a trusted notebook; an untrusted one shows the
    outputs' text form. The signature lives in the user's Jupyter data folder.
    """
    env = dict(os.environ, JUPYTER_DATA_DIR=str(lab.root.parent / "jupyter" / "data"))
    subprocess.run(
        [sys.executable, "-m", "jupyter", "trust", str(path)],
        env=env,
        check=True,
        capture_output=True,
    )


def shut_down_kernels(lab: LabServer) -> None:
    """End the kernels the page started, so the next lesson opens on a quiet machine."""
    headers = {"Authorization": f"token {lab.token}"}
    for session in httpx.get(f"{lab.base_url}/api/sessions", headers=headers, timeout=10).json():
        httpx.delete(f"{lab.base_url}/api/sessions/{session['id']}", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with run_jupyterlab(tmp_path_factory.mktemp("first-look")) as server:
        for lesson in LESSONS:
            shutil.copy(lesson, server.root / lesson.name)
            trust(server, server.root / lesson.name)
        yield server


def test_some_lessons_have_widget_views() -> None:
    assert {p.stem for p in LESSONS} >= {"03_live_widgets", "04_cancellation"}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_widget_views_are_drawn_before_anything_runs(
    browser: Any, lab: LabServer, lesson: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        page.goto(lab.lab_url(lesson.name) + "&reset")  # a fresh workspace: this lesson alone
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        # The saved views are drawn once the widget manager has a kernel to talk to.
        page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=120_000)
        expected = widget_outputs(lesson)
        deadline = time.monotonic() + 60
        seen = page.evaluate(READ_OUTPUTS)
        while seen["drawn"] < expected and time.monotonic() < deadline:
            time.sleep(0.25)
            seen = page.evaluate(READ_OUTPUTS)
        if seen["cards"]:  # the first card in view for the screenshot; it need not be stable
            page.evaluate("document.querySelector('.jp-Notebook .lsv-card').scrollIntoView()")
        shot = save_screenshot(page, f"first_look_{lesson.stem}")
        assert seen["failures"] == [], shot
        assert seen["reprs"] == [], f"widgets shown as text ({shot})"
        assert seen["drawn"] == expected, shot
        if lesson.stem.startswith(("03", "04")):
            assert seen["cards"] >= 1, f"no live-view card drawn ({shot})"
    finally:
        context.close()
        shut_down_kernels(lab)
