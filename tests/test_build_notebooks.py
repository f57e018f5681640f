"""The student notebooks are generated from the solutions, and have not drifted from them."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from labsupport.auth import new_token

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import build_notebooks  # noqa: E402

SOLUTIONS = sorted((ROOT / "solution").glob("[0-9][0-9]_*.ipynb"))


def test_there_is_a_student_notebook_for_every_solution_and_no_other() -> None:
    students = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert students == [p.name for p in SOLUTIONS]
    assert len(SOLUTIONS) >= 2


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_student_notebook_matches_its_solution(path: Path) -> None:
    assert build_notebooks.drifted(path) is None


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_hold_exercises_and_students_do_not_see_the_answers(path: Path) -> None:
    solution = nbformat.read(path, as_version=4)
    student = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    marked = [c for c in solution.cells if "### BEGIN SOLUTION" in c.source]
    assert len(marked) >= 2, "each lesson has at least two exercises"
    assert not any("### BEGIN SOLUTION" in c.source for c in student.cells)
    assert sum("# YOUR CODE HERE" in c.source for c in student.cells) == len(marked)


@pytest.mark.parametrize(
    "path",
    [*SOLUTIONS, *sorted((ROOT / "notebooks").glob("*.ipynb"))],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_every_code_cell_was_executed_in_order(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert all(counts), "every code cell has stored outputs from a real run"
    assert counts == sorted(counts)


def test_strip_solutions_keeps_indentation_and_returns_none() -> None:
    source = "def f(x):\n    '''Doc.'''\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n"
    stripped = build_notebooks.strip_solutions(source)
    assert stripped == "def f(x):\n    '''Doc.'''\n    # YOUR CODE HERE\n    ...\n"
    namespace: dict[str, object] = {}
    exec(stripped, namespace)
    assert namespace["f"](3) is None  # type: ignore[operator]


def test_unbalanced_markers_are_refused() -> None:
    with pytest.raises(ValueError, match="unbalanced solution markers"):
        build_notebooks.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_a_server_secret_in_an_output_is_never_saved() -> None:
    secret = new_token()
    cell = nbformat.v4.new_code_cell("server")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text=f"http://127.0.0.1:1/?token={secret}\n"
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/html": [f'<iframe src="/proxy/1/?token={secret}">']}
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    build_notebooks.scrub_secrets(nb)
    saved = nbformat.writes(nb)
    assert secret not in saved
    assert saved.count("token=<secret>") == 2
