"""Lesson 8 on a machine without redis-server (or nginx): every step says so, once, and skips.

The shipped outputs are made where both are installed, and nbval checks those.
Here the student notebook runs top to bottom in a fresh kernel with
``LAB_REDIS_SERVER`` (and, in one case, ``LAB_NGINX``) pointing at nothing, the
first place ``find_redis_server`` and ``find_nginx`` look: no cell may raise or
write to stderr, and each step that needs what is missing prints one line that
names it and the command that installs it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.lessons import NOTEBOOKS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

LESSON = NOTEBOOKS / "08_many_workers.ipynb"
REDIS_HOW = "sudo apt-get install redis-server (macOS: brew install redis)"
NGINX_HOW = "sudo apt-get install nginx (macOS: brew install nginx)"


def run_without(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *programs: str) -> Any:
    for program in programs:
        variable = {"redis-server": "LAB_REDIS_SERVER", "nginx": "LAB_NGINX"}[program]
        monkeypatch.setenv(variable, str(tmp_path / f"no-{program}-here"))
    nb = nbformat.read(LESSON, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return nb


def text_of(cell: Any) -> str:
    assert all(o.get("name") != "stderr" for o in cell.outputs), cell.outputs
    assert all(o.output_type != "error" for o in cell.outputs), cell.outputs
    return "".join(o.get("text", "") for o in cell.outputs)


def needs(cell: Any) -> set[str]:
    """What the cell's step asks ``missing(...)`` for: ``{"nginx", "redis-server"}``, or less."""
    call = re.search(r"\bmissing\(([^)]*)\)", cell.source)
    return set(re.findall(r'"([^"]+)"', call.group(1))) if call else set()


@pytest.mark.parametrize(
    "absent", [("redis-server",), ("redis-server", "nginx")], ids=["no-redis", "neither"]
)
def test_each_step_skips_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, absent: tuple[str, ...]
) -> None:
    nb = run_without(monkeypatch, tmp_path, *absent)
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    setup = text_of(cells[0])
    assert f"redis-server: not installed ({REDIS_HOW})" in setup
    assert ("nginx: found" in setup) is ("nginx" not in absent)
    skipped = 0
    for cell in cells[1:]:
        out = text_of(cell)
        wanted = needs(cell) & set(absent)
        if not wanted:
            continue
        skipped += 1
        assert out.count("\n") == 1 and out.startswith("This step is skipped: it needs "), out
        for program in wanted:
            assert program in out and (REDIS_HOW if program == "redis-server" else NGINX_HOW) in out
    assert skipped == (11 if "nginx" in absent else 10)  # every step that calls missing()
    assert "redis-server running: False" in text_of(cells[-1])
