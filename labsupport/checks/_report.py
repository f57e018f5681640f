"""How a check reports: one printed line, never an exception.

A check decorated with ``exercise`` counts the failed attempts at its exercise
(per kernel process), so that ``fail`` can give a nudge first and more help
when the nudge was not enough, and records each verdict in the student's
progress file (``labsupport.progress``), silently: no cell output changes.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar, cast

from ..progress_log import record

T = TypeVar("T")
P = ParamSpec("P")

# How many times the exercise whose check is running has failed before this attempt;
# 0 outside a decorated check.
_failed_before: ContextVar[int] = ContextVar("_failed_before", default=0)


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


def fail(problem: str, hint: str, *, stronger: str | None = None) -> Check:
    """Report what is wrong and a hint towards the fix; more help on a later attempt.

    ``hint`` is a nudge and is always shown. ``stronger`` is shown *as well*, on
    a line of its own, from the second failed attempt at the same exercise on
    (see ``exercise``): a pair that is still stuck keeps the nudge it already
    read and gets one step closer to the answer. Outside a decorated check, or
    on a first failed attempt, only the nudge is shown.

    Example, on the second failed attempt::

        ❌ Not yet: for a burst of three you gave 3 redraws, expected 2.
           Hint: two redraws must be at least 1/max_per_second apart.
           Still stuck? Remember the time of the last redraw and ...
    """
    message = f"❌ Not yet: {problem}\n   Hint: {hint}"
    if stronger is not None and _failed_before.get() > 0:
        message += f"\n   Still stuck? {stronger}"
    check = Check(False, message)
    print(check.message)
    return check


def exercise(check: Callable[P, T]) -> Callable[P, T]:
    """Mark a check function as the check of one exercise, and count its failed attempts.

    Each call is one attempt; a call that returns a failed ``Check`` counts as a
    failed attempt. The count lives as long as the kernel process (a kernel
    restart starts again from the nudge), and it decides what ``fail`` shows.
    Works on ``async def`` checks too. The check's module names its lesson
    (``lesson05`` is lesson ``"05"``); each verdict is recorded as progress.
    """
    failures = 0
    lesson = check.__module__.rpartition(".")[2].removeprefix("lesson")
    name = check.__name__

    def counted(verdict: object) -> None:
        nonlocal failures
        if not isinstance(verdict, Check):
            return
        if not verdict.passed:
            failures += 1
        record(lesson, name, verdict.passed)

    if inspect.iscoroutinefunction(check):
        async_check = cast(Callable[P, Awaitable[object]], check)

        @functools.wraps(check)
        async def run_async(*args: P.args, **kwargs: P.kwargs) -> object:
            token = _failed_before.set(failures)
            try:
                verdict = await async_check(*args, **kwargs)
            finally:
                _failed_before.reset(token)
            counted(verdict)
            return verdict

        run_async.lab_exercise = (lesson, name)  # type: ignore[attr-defined]
        return cast(Callable[P, T], run_async)

    @functools.wraps(check)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _failed_before.set(failures)
        try:
            verdict = check(*args, **kwargs)
        finally:
            _failed_before.reset(token)
        counted(verdict)
        return verdict

    run.lab_exercise = (lesson, name)  # type: ignore[attr-defined]
    return run


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
