"""Check functions for the lessons' exercises.

Each lesson has a module (``lesson01``, ``lesson02``, ...). A check runs the
student's function, compares it with what the lesson asked for and prints one
line: ``✅ ...`` when it is right, or ``❌ Not yet: ... Hint: ...`` when it is
not. A check never raises, so a notebook runs to the end even with an exercise
left blank. Checks marked with ``exercise`` count failed attempts, so ``fail``
can add a stronger hint from the second failed attempt on, and record each
verdict as the student's progress.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from ._report import Check, attempt, exercise, fail, ok

__all__ = ["Check", "attempt", "exercise", "exercises_by_lesson", "fail", "ok"]


def exercises_by_lesson() -> dict[str, list[str]]:
    """Every lesson's exercises, in the order their checks are written: ``{"05": ["format_sse", ...]}``."""
    found: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("lesson"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        checks = [getattr(module, public) for public in getattr(module, "__all__", [])]
        checks = [c for c in checks if getattr(c, "lab_exercise", None) is not None]
        checks.sort(key=lambda c: inspect.unwrap(c).__code__.co_firstlineno)
        for check in checks:
            lesson, name = check.lab_exercise
            found.setdefault(lesson, []).append(name)
    return found
