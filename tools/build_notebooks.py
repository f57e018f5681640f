"""Build the student notebooks from the solved ones, and execute both.

    python tools/build_notebooks.py            # every lesson
    python tools/build_notebooks.py 03 04      # lessons whose file name starts with 03 or 04
    python tools/build_notebooks.py --check    # only report notebooks that drifted from solution/

``solution/`` is the single source of truth. In a solution's code cells, the
lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are the answer;
the student notebook gets ``# YOUR CODE HERE`` and ``...`` in their place, so
an unfinished exercise returns ``None`` instead of raising. Both notebooks are
executed top to bottom so that their stored outputs are real, which is what
nbval later compares against. The student notebook's run is timed: both
notebooks keep the seconds in ``metadata["lab"]["run_seconds"]``, and the time
line of the lesson's intro is rewritten from them (see ``tools/lesson_times.py``).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lesson_times  # a sibling script, not an installed module

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_DIR = ROOT / "solution"
STUDENT_DIR = ROOT / "notebooks"

_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PLACEHOLDER = "{indent}# YOUR CODE HERE\n{indent}..."


def strip_solutions(source: str) -> str:
    """Replace every solution block of a cell's source with the placeholder.

    Example: "def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"
    -> "def f():\\n    # YOUR CODE HERE\\n    ..."
    """
    if source.count("### BEGIN SOLUTION") != source.count("### END SOLUTION"):
        raise ValueError(f"unbalanced solution markers in cell:\n{source}")
    return _BLOCK.sub(lambda m: PLACEHOLDER.format(indent=m["indent"]), source)


def student_version(solution: Any) -> Any:
    """The student notebook for a solved notebook: same cells, answers removed, no outputs."""
    student = copy.deepcopy(solution)
    for cell in student.cells:
        if cell.cell_type != "code":
            continue
        cell.source = strip_solutions(cell.source)
        cell.outputs = []
        cell.execution_count = None
    return student


def sources(nb: Any) -> list[tuple[str, str]]:
    """What a reader sees of a notebook, for drift comparison: each cell's type and source."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


# Read once every cell has run: the final state of every widget in the kernel. nbclient keeps
# only the updates that arrive while their own cell runs, but a live view draws from a
# background task, so a saved card would show "Starting…" instead of the answer it ended with.
_WIDGET_STATE_PROBE = (
    "import json as _json, ipywidgets as _widgets\n"
    "print(_json.dumps(_widgets.Widget.get_manager_state(drop_defaults=True)))"
)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def execute(nb: Any, cwd: Path) -> None:
    """Run every cell in a fresh kernel of this environment, storing outputs and widget state.

    The widgets' state goes into the notebook's metadata, so a lesson opened before it
    runs (JupyterLab, nbviewer) draws its views as they ended instead of their text
    repr; nbval skips the widget outputs' random model ids.
    """
    probe = nbformat.v4.new_code_cell(_WIDGET_STATE_PROBE)
    nb.cells.append(probe)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,  # timestamps would churn every rebuild
    )
    try:
        client.execute()
    finally:
        nb.cells = [cell for cell in nb.cells if cell is not probe]
    state = json.loads("".join(o.get("text", "") for o in probe.outputs))
    scrub_secrets(nb)
    if state["state"]:
        nb.metadata["widgets"] = {WIDGET_STATE: state}
    else:
        nb.metadata.pop("widgets", None)


# A lab server's secret in a link or frame (server.url, proxy_path): dead once the kernel
# stops, but still never saved; tests/nbval_sanitize.cfg blanks it the same way.
_SECRET = re.compile(r"token=[A-Za-z0-9_-]{16,}")


def scrub_secrets(nb: Any) -> None:
    """Replace every server secret in the stored outputs with ``token=<secret>``."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return _SECRET.sub("token=<secret>", value)
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = clean(output["text"])
            for mime, value in output.get("data", {}).items():
                output["data"][mime] = clean(value)


def lessons(prefixes: list[str]) -> list[Path]:
    return lesson_times.lessons(prefixes, SOLUTION_DIR)


def build(path: Path, *, run: bool = True) -> None:
    solution = nbformat.read(path, as_version=4)
    if run:
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        execute(solution, SOLUTION_DIR)
    student = student_version(solution)
    if run:
        target = STUDENT_DIR / path.name
        print(f"executing {target.relative_to(ROOT)}", flush=True)
        start = time.perf_counter()
        execute(student, STUDENT_DIR)
        seconds = lesson_times.record_run_seconds(student, time.perf_counter() - start)
        lesson_times.record_run_seconds(solution, seconds)
    if lesson_times.run_seconds(student) is not None:
        # Without a run, the seconds measured last time still hold; the reading time may not.
        line = lesson_times.lesson_time(student).line
        lesson_times.set_time_line(solution, line)
        lesson_times.set_time_line(student, line)
        print(f"{path.stem}: {line}", flush=True)
    nbformat.write(solution, path)
    nbformat.write(student, STUDENT_DIR / path.name)


def drifted(path: Path) -> str | None:
    """Why notebooks/<name> no longer matches solution/<name>, or None when it does."""
    student_path = STUDENT_DIR / path.name
    if not student_path.exists():
        return f"{student_path.relative_to(ROOT)} is missing"
    expected = sources(student_version(nbformat.read(path, as_version=4)))
    actual = sources(nbformat.read(student_path, as_version=4))
    if expected == actual:
        return None
    if len(expected) != len(actual):
        return f"{student_path.name}: {len(actual)} cells, the solution makes {len(expected)}"
    index = next(i for i, (e, a) in enumerate(zip(expected, actual, strict=True)) if e != a)
    return f"{student_path.name}: cell {index} differs from what solution/{path.name} generates"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson number prefixes, e.g. 01 02")
    parser.add_argument("--check", action="store_true", help="report drift, change nothing")
    parser.add_argument("--no-execute", action="store_true", help="generate without running")
    args = parser.parse_args(argv)
    paths = lessons(args.lessons)
    if args.check:
        problems = [p for p in map(drifted, paths) if p]
        for problem in problems:
            print(problem)
        if problems:
            print("run: python tools/build_notebooks.py")
        return 1 if problems else 0
    for path in paths:
        build(path, run=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
