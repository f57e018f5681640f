"""Every lesson states its time the same way, and the statement matches its measured run."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import lesson_times  # noqa: E402
from lesson_times import LessonTime  # noqa: E402

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize(
    ("figures", "total"),
    [
        (LessonTime(words=1350, exercises=2, run_seconds=21), 30),  # 1 + 9 + 16 = 26
        (LessonTime(words=1500, exercises=2, run_seconds=60), 30),  # 1 + 10 + 16 = 27
        (LessonTime(words=1501, exercises=2, run_seconds=61), 30),  # 2 + 11 + 16 = 29
        (LessonTime(words=600, exercises=0, run_seconds=60), 5),  # 1 + 4 = 5: already a multiple
        (LessonTime(words=0, exercises=0, run_seconds=0), 0),
        (LessonTime(words=2400, exercises=3, run_seconds=125), 45),  # 3 + 16 + 24 = 43
    ],
    ids=["rounds-up", "minute-exact", "just-over", "multiple-of-5", "nothing", "long"],
)
def test_total_is_the_next_multiple_of_five(figures: LessonTime, total: int) -> None:
    assert figures.total == total


def test_the_line_reads_as_agreed() -> None:
    figures = LessonTime(words=1350, exercises=2, run_seconds=21)
    assert figures.reading == 9
    assert figures.line == (
        "*About 30 minutes: 9 min reading, 2 exercises (~8 min each), cells run in about 21 s.*"
    )


def test_one_exercise_is_singular() -> None:
    line = LessonTime(words=150, exercises=1, run_seconds=5).line
    assert (
        line
        == "*About 10 minutes: 1 min reading, 1 exercise (~8 min each), cells run in about 5 s.*"
    )


def small_lesson(intro: str) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell(intro),
        new_code_cell("x = 1"),
        new_markdown_cell("## Exercise 1 · one\n\ntext"),
        new_markdown_cell("## Exercise 2 · two\n\n## Check yourself"),
    ]
    return nb


def test_words_leave_out_the_time_line_and_exercises_count_headings() -> None:
    nb = small_lesson("# Title\n\n*About 25 minutes: 1 min reading, and so on.*")
    assert lesson_times.count_words(nb) == 2 + 3 + 6 + 8  # the headings' words count too
    assert lesson_times.count_exercises(nb) == 2


def test_set_time_line_replaces_the_old_line_and_keeps_the_rest() -> None:
    nb = small_lesson("# Title\n\nAbout 40 minutes. Run the cells in order.\n\nMore text.")
    assert lesson_times.set_time_line(nb, "*About 30 minutes: new.*")
    assert nb.cells[0].source == "# Title\n\n*About 30 minutes: new.*\n\nMore text."
    assert not lesson_times.set_time_line(nb, "*About 30 minutes: new.*")


def test_set_time_line_appends_a_line_when_there_is_none() -> None:
    nb = small_lesson("# Title\n\nGoals.\n")
    assert lesson_times.set_time_line(nb, "*About 30 minutes: new.*")
    assert nb.cells[0].source == "# Title\n\nGoals.\n\n*About 30 minutes: new.*"


def test_run_seconds_are_kept_whole_rounded_up_beside_other_metadata() -> None:
    nb = small_lesson("# Title")
    nb.metadata["lab"] = {"note": "kept"}
    assert lesson_times.run_seconds(nb) is None
    with pytest.raises(ValueError, match=r"run tools/build_notebooks\.py"):
        lesson_times.lesson_time(nb)
    assert lesson_times.record_run_seconds(nb, 20.2) == 21
    assert nb.metadata["lab"] == {"note": "kept", "run_seconds": 21}
    assert lesson_times.lesson_time(nb) == LessonTime(words=19, exercises=2, run_seconds=21)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_states_the_time_its_figures_give(path: Path) -> None:
    student = nbformat.read(path, as_version=4)
    solution = nbformat.read(ROOT / "solution" / path.name, as_version=4)
    seconds = lesson_times.run_seconds(student)
    assert seconds is not None and seconds > 0, "run time never measured: build the lesson"
    assert lesson_times.run_seconds(solution) == seconds
    expected = lesson_times.lesson_time(student).line
    assert lesson_times.stated_lines(student) == [expected]
    assert lesson_times.stated_lines(solution) == [expected]
    assert f"\n{expected}" in f"\n{student.cells[0].source}", "the line stands on its own"
