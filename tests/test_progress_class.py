"""Two students run lesson 1 for real, one solved, one not: the class table shows exactly that.

Each student is a fresh kernel with its own home folder, as on a hub; the check
cells record into ``~/.labkit/progress.jsonl`` there. Recording must not change
any cell's output, so nbval's comparison stays strict: the check cells print the
same verdicts as the committed notebooks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from labsupport.progress_log import RELATIVE_PATH, load

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
LESSON = "01_generators.ipynb"


def run_as(home: Path, notebook: Path) -> Any:
    """Execute ``notebook`` in a kernel whose home folder is ``home``; returns the result."""
    nb = nbformat.read(notebook, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "LAB_PROGRESS_FILE"}
    env["HOME"] = str(home)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    client.execute(env=env)
    return nb


def check_outputs(nb: Any) -> list[str]:
    """What the check cells printed, in order."""
    return [
        "".join(o.get("text", "") for o in cell.outputs)
        for cell in nb.cells
        if cell.cell_type == "code" and "check." in cell.source
    ]


def test_the_class_table_shows_who_solved_what(tmp_path: Path) -> None:
    solved, unsolved = tmp_path / "alice", tmp_path / "bob"
    for home in (solved, unsolved):
        home.mkdir()
    ran_solved = run_as(solved, ROOT / "solution" / LESSON)
    ran_unsolved = run_as(unsolved, ROOT / "notebooks" / LESSON)

    # Recording is silent: the verdicts read exactly as in the committed notebooks.
    assert check_outputs(ran_solved) == check_outputs(nbformat.read(ROOT / "solution" / LESSON, 4))
    assert check_outputs(ran_unsolved) == check_outputs(
        nbformat.read(ROOT / "notebooks" / LESSON, 4)
    )

    alice = load(solved / RELATIVE_PATH)
    bob = load(unsolved / RELATIVE_PATH)
    assert [(v.lesson, v.exercise, v.passed) for v in alice] == [
        ("01", "words", True),
        ("01", "first_n", True),
    ]
    assert [(v.lesson, v.exercise, v.passed) for v in bob] == [
        ("01", "words", False),
        ("01", "first_n", False),
    ]

    shown = subprocess.run(
        [sys.executable, "-m", "labsupport.progress", "--class", str(solved), str(unsolved)],
        capture_output=True,
        text=True,
        check=True,
    )
    header, first, second = (line.split() for line in shown.stdout.splitlines())
    assert header[:3] == ["student", "lesson", "passed"]
    # Bob is stuck (his last check failed), so he comes first; Alice passed both.
    assert first[:7] == ["bob", "01", "0", "1x", "01", "words", "(1x)"]
    assert second[:5] == ["alice", "01", "2", "–", "0"] or second[:4] == ["alice", "01", "2", "–"]
    assert shown.stderr == ""
