"""Check functions for the lessons' exercises.

Each lesson has a module (``lesson01``, ``lesson02``, ...). A check runs the
student's function, compares it with what the lesson asked for and prints one
line: ``✅ ...`` when it is right, or ``❌ Not yet: ... Hint: ...`` when it is
not. A check never raises, so a notebook runs to the end even with an exercise
left blank.
"""

from __future__ import annotations

from ._report import Check, attempt, fail, ok

__all__ = ["Check", "attempt", "fail", "ok"]
