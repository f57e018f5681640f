"""The progress log: every check cell's verdict, one line each, in a file the student owns.

A check cell appends one line of JSON per attempt to ``~/.labkit/progress.jsonl``
(or ``$LAB_PROGRESS_FILE``; ``LAB_PROGRESS_FILE=off`` records nothing): the
lesson, the exercise, passed or not, and the time. Nothing leaves the machine and
nothing personal is kept beyond the OS user name.

    >>> line = Verdict("alice", "05", "format_sse", True, 160.0).to_line()
    >>> Verdict.from_line(line.decode()).exercise
    'format_sse'

Appends are one ``write`` of one short line to a file opened with ``O_APPEND``,
so two kernels checking at once lose no verdict; a line that cannot be read (a
file cut short, edited by hand) is skipped with a warning, never a crash. The
tables that read the log back live in ``progress``.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PROGRESS_ENV",
    "RELATIVE_PATH",
    "Verdict",
    "load",
    "progress_file",
    "record",
    "user_name",
]

PROGRESS_ENV = "LAB_PROGRESS_FILE"
RELATIVE_PATH = Path(".labkit") / "progress.jsonl"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Verdict:
    """One check of one exercise: who, which lesson (``"05"``) and exercise, passed, when."""

    user: str
    lesson: str
    exercise: str
    passed: bool
    at: float

    def to_line(self) -> bytes:
        fields = {"v": _VERSION, "user": self.user, "lesson": self.lesson}
        fields |= {"exercise": self.exercise, "passed": self.passed, "at": round(self.at, 3)}
        return (json.dumps(fields, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_line(cls, line: str) -> Verdict:
        """Parse one line; ``ValueError`` says what is wrong with it."""
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg})") from None
        if not isinstance(fields, dict) or fields.get("v") != _VERSION:
            raise ValueError("not a progress record of this version")
        values = (fields.get(k) for k in ("user", "lesson", "exercise", "passed", "at"))
        user, lesson, exercise, passed, at = values
        texts_ok = all(isinstance(v, str) and v for v in (user, lesson, exercise))
        if not texts_ok or not isinstance(passed, bool) or not isinstance(at, (int, float)):
            raise ValueError("a field is missing or of the wrong type")
        return cls(str(user), str(lesson), str(exercise), passed, float(at))


def progress_file(environ: dict[str, str] | None = None) -> Path | None:
    """This user's progress file, or None when recording is off (``LAB_PROGRESS_FILE=off``)."""
    env = os.environ if environ is None else environ
    configured = env.get(PROGRESS_ENV, "").strip()
    if configured.lower() == "off":
        return None
    return Path(configured) if configured else Path.home() / RELATIVE_PATH


def user_name() -> str:
    """The OS user name, or the uid where the user has no passwd entry."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def record(
    lesson: str, exercise: str, passed: bool, *, path: Path | None = None, at: float | None = None
) -> Verdict | None:
    """Append one verdict to the progress file; returns it, or None when recording is off.

    Never raises for the file's sake: a check cell must print its verdict even when
    the home folder is read-only. Bad arguments still raise ``ValueError``.
    """
    if not lesson or not exercise:
        raise ValueError(f"lesson and exercise must be non-empty, got {lesson!r}, {exercise!r}")
    target = path if path is not None else progress_file()
    if target is None:
        return None
    verdict = Verdict(
        user_name(), lesson, exercise, bool(passed), time.time() if at is None else at
    )
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, verdict.to_line())  # one short write: atomic with O_APPEND
        finally:
            os.close(fd)
    except OSError:
        return None
    return verdict


def load(path: Path, *, warn: bool = True) -> list[Verdict]:
    """The verdicts in a progress file, oldest first; unreadable lines are skipped with a warning."""
    verdicts: list[Verdict] = []
    bad = 0
    first_problem = ""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                verdicts.append(Verdict.from_line(line))
            except ValueError as exc:
                bad += 1
                first_problem = first_problem or f"line {number}: {exc}"
    if bad and warn:
        print(
            f"warning: {path}: skipped {bad} unreadable line(s), {first_problem}", file=sys.stderr
        )
    return verdicts
