"""docs/INSTRUCTOR.md says what the lessons are: their times, their optional steps, their exercises."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from labsupport.checks import exercises_by_lesson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import lesson_times  # noqa: E402

GUIDE = (ROOT / "docs" / "INSTRUCTOR.md").read_text()
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_OPTIONAL = re.compile(r"^## +((?:Step|Exercise) \d+) ·.*\*\(optional\)\*$", re.MULTILINE)


def table_after(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``heading``, as lists of cell texts."""
    text = GUIDE[GUIDE.index(heading) :]
    rows = []
    for line in text.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return [row for row in rows[2:]]  # without the header and the |---| line


def optional_steps(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [m for c in nb.cells if c.cell_type == "markdown" for m in _OPTIONAL.findall(c.source)]


def test_the_ninety_minute_plan_skips_exactly_the_steps_marked_optional() -> None:
    planned = {row[0]: row[1].split(", ") for row in table_after("### One 90-minute session")}
    marked = {p.name[:2]: optional_steps(p) for p in LESSONS if optional_steps(p)}
    assert planned == marked
    for path in sorted((ROOT / "solution").glob("[0-9][0-9]_*.ipynb")):
        assert optional_steps(path) == marked.get(path.name[:2], []), path.name


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_the_minutes_table_matches_each_lessons_measured_time(path: Path) -> None:
    rows = {row[0].split()[0]: row for row in table_after("## Session plans")}
    _, reading, exercises, run, stated = rows[path.name[:2]]
    figures = lesson_times.lesson_time(nbformat.read(path, as_version=4))
    assert (reading, exercises, stated) == (
        f"{figures.reading} min",
        str(figures.exercises),
        f"{figures.total} min",
    )
    shown = int(run.removesuffix(" s"))
    assert abs(shown - figures.run_seconds) <= max(5, figures.run_seconds // 2), "cells run"


def test_every_exercise_has_a_row_that_says_what_to_tell_a_pair() -> None:
    rows = {row[0]: row for row in table_after("## The exercises")}
    expected = {
        f"{lesson} · `{name}`" for lesson, names in exercises_by_lesson().items() for name in names
    }
    assert set(rows) == expected
    for row in rows.values():
        assert len(row) == 4 and all(row), row


def test_the_commands_it_names_exist() -> None:
    kit = (ROOT / "kit.py").read_text()
    for command in (
        "kit.py reset 05",
        "kit.py reset --all",
        "kit.py lab --solutions",
        "kit.py progress --class",
    ):
        assert command in GUIDE
        assert command in kit, f"kit.py's help does not mention {command}"
