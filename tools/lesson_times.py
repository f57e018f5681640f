"""How long each lesson takes, stated the same way in every lesson.

    python tools/lesson_times.py              # a table for every lesson
    python tools/lesson_times.py 03 04        # lessons whose file name starts with 03 or 04
    python tools/lesson_times.py --write      # rewrite the time line in solution/ and notebooks/

Each lesson's intro (its first cell) states its time on a line of its own, e.g.

    *About 30 minutes: 9 min reading, 2 exercises (~8 min each), cells run in about 21 s.*

- run: the wall-clock seconds of running the student notebook top to bottom in a fresh
  kernel, measured by ``tools/build_notebooks.py`` and kept in both notebooks as
  ``metadata["lab"]["run_seconds"]`` (``--write`` never re-executes anything);
- reading: ceil(words / 150), the words being the whitespace-separated words of every
  markdown and code cell of the student notebook, except the time line itself;
- exercises: the number of ``## Exercise`` headings, at 8 minutes each;
- total: the next multiple of 5 at or above ceil(run / 60) + reading + 8 * exercises.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_DIR = ROOT / "solution"
STUDENT_DIR = ROOT / "notebooks"

WORDS_PER_MINUTE = 150
MINUTES_PER_EXERCISE = 8

# The stated line, and the looser "About 10 minutes. ..." lines it replaces.
TIME_LINE = re.compile(r"^\*?About \d+ minutes\b.*$", re.MULTILINE)
_EXERCISE = re.compile(r"^## +Exercise\b", re.MULTILINE)


@dataclass(frozen=True)
class LessonTime:
    """The figures behind one lesson's time line."""

    words: int
    exercises: int
    run_seconds: int

    @property
    def reading(self) -> int:
        """Minutes of reading, rounded up."""
        return math.ceil(self.words / WORDS_PER_MINUTE)

    @property
    def total(self) -> int:
        """Minutes in all, rounded up to a multiple of 5.

        Example: run 21 s, 9 min reading, 2 exercises -> 1 + 9 + 16 = 26 -> 30.
        """
        minutes = (
            math.ceil(self.run_seconds / 60) + self.reading + MINUTES_PER_EXERCISE * self.exercises
        )
        return 5 * math.ceil(minutes / 5)

    @property
    def line(self) -> str:
        """The line the lesson's intro states."""
        exercises = "1 exercise" if self.exercises == 1 else f"{self.exercises} exercises"
        return (
            f"*About {self.total} minutes: {self.reading} min reading, {exercises} "
            f"(~{MINUTES_PER_EXERCISE} min each), cells run in about {self.run_seconds} s.*"
        )


def count_words(nb: Any) -> int:
    """Whitespace-separated words of every markdown and code cell, leaving out the time line."""
    return sum(
        len(TIME_LINE.sub("", cell.source).split())
        for cell in nb.cells
        if cell.cell_type in ("markdown", "code")
    )


def count_exercises(nb: Any) -> int:
    """The number of ``## Exercise`` headings in the lesson's markdown."""
    return sum(
        len(_EXERCISE.findall(cell.source)) for cell in nb.cells if cell.cell_type == "markdown"
    )


def run_seconds(nb: Any) -> int | None:
    """The measured run time kept in the notebook's metadata, or None if it was never measured."""
    value = nb.metadata.get("lab", {}).get("run_seconds")
    return value if isinstance(value, int) else None


def record_run_seconds(nb: Any, seconds: float) -> int:
    """Keep a measured run time in the notebook's metadata, in whole seconds rounded up."""
    whole = math.ceil(seconds)
    lab = dict(nb.metadata.get("lab", {}))
    lab["run_seconds"] = whole
    nb.metadata["lab"] = lab
    return whole


def lesson_time(student: Any) -> LessonTime:
    """The figures for a student notebook; its run time must have been measured."""
    seconds = run_seconds(student)
    if seconds is None:
        raise ValueError(
            "no metadata.lab.run_seconds: run tools/build_notebooks.py for this lesson"
        )
    return LessonTime(count_words(student), count_exercises(student), seconds)


def stated_lines(nb: Any) -> list[str]:
    """The time lines the intro (the first cell) states; a lesson has exactly one."""
    return TIME_LINE.findall(nb.cells[0].source) if nb.cells else []


def set_time_line(nb: Any, line: str) -> bool:
    """Put ``line`` in the intro in place of the old one (or at its end); True if it changed."""
    intro = nb.cells[0]
    if TIME_LINE.search(intro.source):
        source = TIME_LINE.sub(lambda _: line, intro.source, count=1)
    else:
        source = f"{intro.source.rstrip()}\n\n{line}"
    changed = source != intro.source
    intro.source = source
    return changed


def lessons(prefixes: list[str], folder: Path = STUDENT_DIR) -> list[Path]:
    """The lessons in ``folder``, all of them or those starting with one of ``prefixes``."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        found = [p for p in found if any(p.name.startswith(x) for x in prefixes)]
        if not found:
            raise SystemExit(f"no lesson in {folder.name}/ starts with {', '.join(prefixes)}")
    return found


def write(student_path: Path) -> str:
    """Rewrite the time line of a lesson in notebooks/ and solution/; says what it did."""
    student = nbformat.read(student_path, as_version=4)
    line = lesson_time(student).line
    changed = []
    for path, nb in ((student_path, student), (SOLUTION_DIR / student_path.name, None)):
        nb = nb if nb is not None else nbformat.read(path, as_version=4)
        if set_time_line(nb, line):
            nbformat.write(nb, path)
            changed.append(path.parent.name)
    return f"{student_path.stem}: " + (
        f"updated in {', '.join(changed)}" if changed else "up to date"
    )


def table(paths: list[Path]) -> list[str]:
    """One row per lesson: its figures, its minutes and whether the intro states them."""
    rows = [
        f"{'lesson':<24} {'words':>6} {'reading':>8} {'exercises':>10} {'run s':>6} {'total':>6}  stated",
        "-" * 72,
    ]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        try:
            figures = lesson_time(nb)
        except ValueError:
            rows.append(
                f"{path.stem:<24} {count_words(nb):>6} {'':>8} {'':>10} {'-':>6} {'':>6}  not measured"
            )
            continue
        stated = stated_lines(nb)
        verdict = "yes" if stated == [figures.line] else ("no line" if not stated else "differs")
        rows.append(
            f"{path.stem:<24} {figures.words:>6} {figures.reading:>8} {figures.exercises:>10} "
            f"{figures.run_seconds:>6} {figures.total:>6}  {verdict}"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson number prefixes, e.g. 01 02")
    parser.add_argument(
        "--write", action="store_true", help="rewrite the time lines (without re-executing)"
    )
    args = parser.parse_args(argv)
    paths = lessons(args.lessons)
    status = 0
    if args.write:
        for path in paths:
            try:
                print(write(path))
            except ValueError as exc:
                print(f"{path.stem}: {exc}")
                status = 1
    print("\n".join(table(paths)))
    return status


if __name__ == "__main__":
    sys.exit(main())
