"""A notebook of given cells in a real JupyterLab, driven as a student drives it.

The notebook is written at test time into a ``jupyter lab`` of its own; a test
runs a cell by clicking its prompt and pressing Shift+Enter, and waits for the
cell's execution number as a person would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat

from tests.support.browser import save_screenshot
from tests.support.jupyterlab import LabServer, run_jupyterlab


def code_notebook(cells: Sequence[str]) -> Any:
    """A notebook of code ``cells`` on the ``python3`` kernel, not run yet."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


@contextmanager
def lab_with_notebook(workdir: Path, name: str, cells: Sequence[str]) -> Iterator[LabServer]:
    """A ``jupyter lab`` in ``workdir`` whose root holds notebook ``name`` of code ``cells``."""
    with run_jupyterlab(workdir) as server:
        nbformat.write(code_notebook(cells), server.root / name)
        yield server


def open_notebook(page: Any, lab: LabServer, name: str, cell_count: int) -> None:
    """Open notebook ``name`` once its kernel is idle, and run its first (setup) cell."""
    page.goto(lab.lab_url(name))
    cell(page, cell_count - 1).wait_for(timeout=60_000)
    # The kernel is ready when the status bar says so.
    page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=60_000)
    run_cell(page, 0)
    wait_for_prompt(page, 0)


def cell(page: Any, index: int) -> Any:
    """The notebook's cell ``index`` (from 0)."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Any, index: int) -> None:
    """Select the cell (command mode) and press Shift+Enter, as a student would."""
    cell(page, index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")


def wait_for_prompt(page: Any, index: int, timeout: float = 60) -> None:
    """Wait until the cell has run: its prompt shows an execution number."""
    prompt = cell(page, index).locator(".jp-InputPrompt")
    deadline = time.monotonic() + timeout
    while not re.fullmatch(r"\[\d+\]:", prompt.inner_text().strip()):
        if time.monotonic() > deadline:
            shot = save_screenshot(page, f"notebook_cell{index}_timeout")
            raise AssertionError(f"cell {index} did not finish in {timeout} s (see {shot})")
        time.sleep(0.05)
