"""Check functions for the lessons' exercises.

Each lesson has a module (``lesson01``, ``lesson02``, ...). A check runs the
student's function, compares it with what the lesson asked for and prints one
line: ``✅ ...`` when it is right, or ``❌ Not yet: ... Hint: ...`` when it is
not. A check never raises, so a notebook runs to the end even with an exercise
left blank. Checks marked with ``exercise`` count failed attempts, so ``fail``
can add a stronger hint from the second failed attempt on.
"""

from __future__ import annotations

from ._report import Check, attempt, exercise, fail, ok

__all__ = ["Check", "attempt", "exercise", "fail", "ok"]
