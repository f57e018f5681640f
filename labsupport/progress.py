"""Where each pair is: the pair's own table and the class's, read from the progress logs.

Every check cell records its verdict in the student's progress log (``progress_log``).
The pair reads its own table, an instructor reads the class's::

    python3 kit.py progress                       # this user's table: lesson x exercise
    python3 kit.py progress --class /home/*       # one row per student, stuck pairs first

    >>> verdicts = [Verdict("alice", "05", "format_sse", False, 100.0),
    ...             Verdict("alice", "05", "format_sse", True, 160.0)]
    >>> summarize("/home/alice", verdicts, now=400.0).passed
    1

A missing or unreadable log is skipped with a one-line warning: nothing a
student's file holds can stop the table.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .progress_log import PROGRESS_ENV, RELATIVE_PATH, Verdict, load, progress_file, user_name

__all__ = [
    "StudentRow",
    "class_rows",
    "class_table",
    "class_table_html",
    "pair_table",
    "show_class",
    "summarize",
]


# -- the pair's own table ------------------------------------------------------------------------


def pair_table(verdicts: Sequence[Verdict], exercises: dict[str, list[str]]) -> str:
    """Lesson x exercise as text: ✓ passed, ✗ tried and not passed yet, – not tried.

    ``exercises`` lists every lesson's exercises in order, e.g. ``{"05": ["format_sse"]}``.
    """
    catalogue = exercises
    latest: dict[tuple[str, str], bool] = {}
    for verdict in verdicts:
        key = (verdict.lesson, verdict.exercise)
        latest[key] = latest.get(key, False) or verdict.passed
    rows = []
    for lesson in sorted(set(catalogue) | {v.lesson for v in verdicts}):
        names = list(catalogue.get(lesson, []))
        names += sorted({v.exercise for v in verdicts if v.lesson == lesson} - set(names))
        marks = [
            f"{'✓' if latest[(lesson, n)] else '✗'} {n}" if (lesson, n) in latest else f"– {n}"
            for n in names
        ]
        rows.append(f"lesson {lesson}   " + "   ".join(marks))
    return "\n".join(rows)


# -- the class table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StudentRow:
    """One student in the class table."""

    user: str
    home: str
    lesson: str  # the lesson of the last check, "" before any
    passed: int  # exercises passed at least once
    failures: int  # failed checks since the last pass of the current exercise
    most_failed: str  # "05 first_tokens (4x)", or ""
    minutes_since: float | None  # since the last check; None before any
    stuck: bool  # the last check failed

    def sort_key(self) -> tuple[int, int, float, str]:
        # Stuck pairs first, the longest-stuck and most-failing on top; then the rest,
        # the quietest first (a pair that has not checked for long may be stuck too).
        minutes = self.minutes_since if self.minutes_since is not None else -1.0
        return (0 if self.stuck else 1, -self.failures, -minutes, self.user)


def summarize(home: str, verdicts: Sequence[Verdict], *, now: float) -> StudentRow:
    """One student's row from their verdicts."""
    if not verdicts:
        return StudentRow(Path(home).name, home, "", 0, 0, "", None, False)
    ordered = sorted(verdicts, key=lambda v: v.at)
    last = ordered[-1]
    passed = {(v.lesson, v.exercise) for v in ordered if v.passed}
    fails = Counter((v.lesson, v.exercise) for v in ordered if not v.passed)
    most = ""
    if fails:
        (lesson, name), count = max(fails.items(), key=lambda item: (item[1], item[0]))
        most = f"{lesson} {name} ({count}x)"
    streak = 0
    for verdict in reversed(ordered):
        if (verdict.lesson, verdict.exercise) != (last.lesson, last.exercise) or verdict.passed:
            break
        streak += 1
    minutes = max(0.0, (now - last.at) / 60)
    return StudentRow(last.user, home, last.lesson, len(passed), streak, most, minutes, streak > 0)


def class_rows(
    homes: Iterable[str | Path], *, now: float | None = None, warn: bool = True
) -> list[StudentRow]:
    """One row per home folder that has a progress file, stuck pairs first.

    A folder without a file, or a file that cannot be read, is skipped with a
    one-line warning; nothing a student's file holds can stop the table.
    """
    moment = time.time() if now is None else now
    rows = []
    for home in homes:
        path = Path(home) / RELATIVE_PATH
        try:
            verdicts = load(path, warn=warn)
        except OSError as exc:
            if warn:
                reason = "no progress yet" if isinstance(exc, FileNotFoundError) else exc.strerror
                print(f"warning: {home}: skipped ({reason})", file=sys.stderr)
            continue
        rows.append(summarize(str(home), verdicts, now=moment))
    return sorted(rows, key=StudentRow.sort_key)


_COLUMNS = ("student", "lesson", "passed", "failing now", "failed most", "last check")


def _cells(row: StudentRow) -> tuple[str, ...]:
    since = "never" if row.minutes_since is None else f"{row.minutes_since:.0f} min ago"
    failing = f"{row.failures}x" if row.stuck else ""
    # The home folder names the student: on a hub it is the user's, and it is unique.
    return (
        Path(row.home).name,
        row.lesson or "–",
        str(row.passed),
        failing,
        row.most_failed or "–",
        since,
    )


def class_table(rows: Sequence[StudentRow]) -> str:
    """The class table as aligned text, one line per student."""
    table = [_COLUMNS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table
    )


def class_table_html(rows: Sequence[StudentRow]) -> str:
    """The class table as an HTML table, stuck rows marked, for a notebook cell."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    body = []
    for row in rows:
        style = ' style="background:#fdecea"' if row.stuck else ""
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in _cells(row))
        body.append(f"<tr{style}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def show_class(homes: Iterable[str | Path]) -> object:
    """The class table for a notebook: ``show_class(glob.glob("/home/*"))``."""
    from IPython.display import HTML

    return HTML(class_table_html(class_rows(homes)))  # type: ignore[no-untyped-call]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 kit.py progress", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--class",
        dest="homes",
        nargs="+",
        metavar="HOME",
        help="students' home folders (e.g. /home/*): one row per student, stuck pairs first",
    )
    args = parser.parse_args(argv)
    if args.homes:
        rows = class_rows(args.homes)
        print(class_table(rows) if rows else "No progress recorded in those folders yet.")
        return 0
    path = progress_file()
    if path is None:
        print(f"Recording is off ({PROGRESS_ENV}=off).")
        return 0
    from .checks import exercises_by_lesson  # the command on top of everything: imports last

    verdicts = load(path) if path.exists() else []
    print(f"Progress of {user_name()} ({path}):")
    print(pair_table(verdicts, exercises_by_lesson()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
