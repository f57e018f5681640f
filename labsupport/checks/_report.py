"""How a check reports: one printed line, never an exception."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Check:
    """The verdict of one check; printed as one line, also returned for tests."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        # The verdict was already printed; showing the object again would only repeat it.
        return None


def ok(message: str) -> Check:
    """Report success."""
    check = Check(True, f"✅ {message}")
    print(check.message)
    return check


def fail(problem: str, hint: str) -> Check:
    """Report what is wrong and a hint towards the fix."""
    check = Check(False, f"❌ Not yet: {problem}\n   Hint: {hint}")
    print(check.message)
    return check


class Attempt:
    """The outcome of calling the student's code: its value, or the exception it raised."""

    def __init__(self, value: object = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    def describe_error(self) -> str:
        """The exception in one line, with the line of the student's code that raised it."""
        assert self.error is not None
        frames = traceback.extract_tb(self.error.__traceback__)
        where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
        return f"{type(self.error).__name__}: {self.error}{where}"


def attempt(func: Callable[..., T], *args: object, **kwargs: object) -> Attempt:
    """Call ``func`` and capture its value or exception, so a check can explain it."""
    try:
        return Attempt(value=func(*args, **kwargs))
    except Exception as exc:  # the student's bug becomes a hint, not a traceback
        return Attempt(error=exc)
