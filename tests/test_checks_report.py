"""How checks report: one verdict, a nudge on the first failed attempt, more help after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from labsupport.checks import Check, attempt, exercise, fail, ok


def test_ok_prints_and_returns_a_passing_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    verdict = ok("all good.")
    assert verdict and verdict == Check(True, "✅ all good.")
    assert capsys.readouterr().out == "✅ all good.\n"


def test_fail_with_a_hint_prints_the_problem_and_the_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    verdict = fail("it returned 3.", "count again.")
    assert not verdict
    assert capsys.readouterr().out == "❌ Not yet: it returned 3.\n   Hint: count again.\n"


def test_fail_outside_an_exercise_shows_only_the_nudge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(3):
        fail("it returned 3.", "count again.", stronger="count the gaps, not the items.")
    assert "Still stuck?" not in capsys.readouterr().out


def answer_check() -> Callable[[int], Check]:
    """A fresh exercise check (its own count of attempts): 42 passes."""

    @exercise
    def check(value: int) -> Check:
        if value == 42:
            return ok("42.")
        return fail(f"{value} is not it.", "think bigger.", stronger="six times seven.")

    return check


def test_the_stronger_hint_comes_from_the_second_failed_attempt_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = answer_check()
    check(1)
    first = capsys.readouterr().out
    assert first == "❌ Not yet: 1 is not it.\n   Hint: think bigger.\n"
    check(2)
    second = capsys.readouterr().out
    assert second == (
        "❌ Not yet: 2 is not it.\n   Hint: think bigger.\n   Still stuck? six times seven.\n"
    )
    check(3)
    assert "Still stuck? six times seven." in capsys.readouterr().out


def test_a_pass_in_between_does_not_reset_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    check = answer_check()
    check(1)
    assert check(42)
    capsys.readouterr()
    check(1)
    assert "Still stuck?" in capsys.readouterr().out


def test_attempts_are_counted_per_exercise(capsys: pytest.CaptureFixture[str]) -> None:
    @exercise
    def first(value: int) -> Check:
        return fail("no.", "nudge one.", stronger="more help one.")

    @exercise
    def second(value: int) -> Check:
        return fail("no.", "nudge two.", stronger="more help two.")

    first(0)
    first(0)
    capsys.readouterr()
    second(0)
    assert "Still stuck?" not in capsys.readouterr().out
    first(0)
    assert "more help one." in capsys.readouterr().out


def test_fail_without_stronger_reads_the_same_on_every_attempt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @exercise
    def check() -> Check:
        return fail("no.", "nudge.")

    check()
    check()
    out = capsys.readouterr().out
    assert out == "❌ Not yet: no.\n   Hint: nudge.\n" * 2


def test_a_passing_check_returns_its_verdict_and_keeps_its_name() -> None:
    @exercise
    def redraw_times(value: int) -> Check:
        """The docstring."""
        return ok("fine.")

    assert redraw_times(0) == Check(True, "✅ fine.")
    assert redraw_times.__name__ == "redraw_times"
    assert redraw_times.__doc__ == "The docstring."


async def test_async_checks_are_counted_too(capsys: pytest.CaptureFixture[str]) -> None:
    @exercise
    async def consume(value: int) -> Check:
        await asyncio.sleep(0)
        return ok("done.") if value else fail("no.", "nudge.", stronger="more help.")

    assert asyncio.iscoroutinefunction(consume)
    assert not await consume(0)
    assert "Still stuck?" not in capsys.readouterr().out
    assert not await consume(0)
    assert "Still stuck? more help." in capsys.readouterr().out
    assert await consume(1)


def test_the_count_does_not_leak_into_fail_calls_after_the_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @exercise
    def check() -> Check:
        return fail("no.", "nudge.", stronger="more help.")

    check()
    check()
    capsys.readouterr()
    fail("no.", "nudge.", stronger="more help.")
    assert "Still stuck?" not in capsys.readouterr().out


def test_attempt_captures_the_value_or_the_error() -> None:
    assert attempt(lambda x: x + 1, 1).value == 2
    failed = attempt(lambda: 1 / 0)
    assert isinstance(failed.error, ZeroDivisionError)
    assert failed.describe_error().startswith("ZeroDivisionError: division by zero (line ")
