"""Every lesson survives a kernel restart: the setup cell, then any one step, raises nothing.

Pairs restart kernels mid-lesson (a hung cell, a laptop that slept, a hub that
culled an idle server). The lessons promise that running the first code cell
again is enough to carry on from any step. This test keeps the promise honest:
for every lesson in ``notebooks/`` (what students open) and every step in it, a
fresh kernel runs the setup cell and then *only* that step's code cells. The
lesson's last step (its cleanup cell) is tried the same way, so cleaning up
after skipped steps works too.

A step starts at a markdown cell with a ``## `` heading ("## Step 3 · ...",
"## Exercise 2 · ...", "## Clean up") and runs to the next such cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_HEADING = re.compile(r"^## +(?P<title>.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Step:
    """One step of a lesson: its heading and the indexes of its code cells."""

    lesson: Path
    title: str
    cells: tuple[int, ...]

    @property
    def id(self) -> str:
        short = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:40]
        return f"{self.lesson.stem[:2]}-{short}"


def setup_cell(nb: Any) -> int:
    """The index of the lesson's first code cell: the one a restarted kernel runs first."""
    return next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")


def steps(path: Path) -> list[Step]:
    """The lesson's steps after its setup cell, each with the code cells it runs."""
    nb = nbformat.read(path, as_version=4)
    first = setup_cell(nb)
    found: list[Step] = []
    title: str | None = None
    cells: list[int] = []
    for index, cell in enumerate(nb.cells):
        heading = _HEADING.search(cell.source) if cell.cell_type == "markdown" else None
        if heading and index > first:
            if title is not None and cells:
                found.append(Step(path, title, tuple(cells)))
            title, cells = heading["title"].strip(), []
        elif cell.cell_type == "code" and index > first and title is not None:
            cells.append(index)
    if title is not None and cells:
        found.append(Step(path, title, tuple(cells)))
    return found


ALL_STEPS = [step for lesson in LESSONS for step in steps(lesson)]


def test_every_lesson_has_a_setup_cell_and_steps() -> None:
    assert LESSONS, "no lessons found"
    for lesson in LESSONS:
        assert steps(lesson), f"{lesson.name}: no '## ' steps after the setup cell"


def test_every_lesson_ends_with_a_cleanup_cell_and_a_next_line() -> None:
    for lesson in LESSONS:
        nb = nbformat.read(lesson, as_version=4)
        last_step = steps(lesson)[-1]
        assert "clean" in last_step.title.lower(), (
            f"{lesson.name}: last step is {last_step.title!r}"
        )
        tail = "\n".join(cell.source for cell in nb.cells[last_step.cells[-1] :])
        assert "Next:" in tail, f"{lesson.name}: no 'Next:' line after the cleanup cell"


def test_every_lesson_says_what_to_do_after_a_kernel_restart() -> None:
    for lesson in LESSONS:
        nb = nbformat.read(lesson, as_version=4)
        intro = "\n".join(c.source for c in nb.cells[: setup_cell(nb)] if c.cell_type == "markdown")
        assert "restart" in intro.lower(), f"{lesson.name}: the top says nothing of restarts"


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.id)
def test_setup_then_only_this_step_raises_nothing(step: Step) -> None:
    nb = nbformat.read(step.lesson, as_version=4)
    keep = [setup_cell(nb), *step.cells]
    nb.cells = [nb.cells[i] for i in keep]
    for cell in nb.cells:
        cell.outputs = []
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(step.lesson.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{step.lesson.name}, step {step.title!r}, after a restart:\n{exc}")
