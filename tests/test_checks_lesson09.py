"""Lesson 09's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labsupport.checks import exercise, lesson09
from labsupport.timeline import Mark


def good_ttft(marks: list[Mark]) -> float | None:
    for seconds, event in marks:
        if event.type == "token":
            return seconds
    return None


def ttft_of_first_event(marks: list[Mark]) -> float | None:
    return marks[0].seconds


def ttft_of_last_token(marks: list[Mark]) -> float | None:
    found = None
    for seconds, event in marks:
        if event.type == "token":
            found = seconds
    return found


def ttft_raises_without_tokens(marks: list[Mark]) -> float | None:
    return next(m.seconds for m in marks if m.event.type == "token")


def good_rate(marks: list[Mark]) -> float | None:
    times = [s for s, e in marks if e.type == "token"]
    return None if len(times) < 2 else (len(times) - 1) / (times[-1] - times[0])


def rate_counting_every_token(marks: list[Mark]) -> float | None:
    times = [s for s, e in marks if e.type == "token"]
    return len(times) / (times[-1] - times[0])


def rate_over_the_whole_run(marks: list[Mark]) -> float | None:
    times = [s for s, e in marks if e.type == "token"]
    return (len(times) - 1) / marks[-1].seconds


def rate_dividing_by_zero(marks: list[Mark]) -> float | None:
    times = [s for s, e in marks if e.type == "token"]
    return (len(times) - 1) / (times[-1] - times[0])


def test_time_to_first_token_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson09.time_to_first_token(good_ttft)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (ttft_of_first_event, "that is when a status or tool event arrived"),
        (ttft_of_last_token, "that is the last token"),
        (ttft_raises_without_tokens, "after the loop, return None"),
        (lambda marks: None, "expected 0.8"),
    ],
    ids=["first-event", "last-token", "no-tokens", "blank"],
)
def test_time_to_first_token_explains_the_usual_mistakes(
    func: Callable[[list[Mark]], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson09.time_to_first_token(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet") and hint in out


def test_tokens_per_second_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson09.tokens_per_second(good_rate)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (rate_counting_every_token, "the first token is not part of the rate"),
        (rate_over_the_whole_run, "the wait before the first token does not count"),
        (rate_dividing_by_zero, "fewer than two tokens"),
        (lambda marks: None, "expected 25.0"),
    ],
    ids=["every-token", "whole-run", "single-token", "blank"],
)
def test_tokens_per_second_explains_the_usual_mistakes(
    func: Callable[[list[Mark]], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson09.tokens_per_second(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet") and hint in out


def test_no_hint_for_the_rate_spells_out_the_formula(capsys: pytest.CaptureFixture[str]) -> None:
    check = exercise(lesson09.tokens_per_second.__wrapped__)  # a count of attempts of its own
    for mistake in (rate_counting_every_token, rate_over_the_whole_run, lambda marks: None):
        check(mistake)
    out = capsys.readouterr().out
    assert out.count("Still stuck?") == 2  # every failed attempt after the first
    assert "len(" not in out and "times[" not in out and "/ (" not in out


def test_a_stuck_pair_gets_a_worked_example_for_the_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = exercise(lesson09.tokens_per_second.__wrapped__)
    check(lambda marks: None)
    assert "Still stuck?" not in capsys.readouterr().out
    check(lambda marks: None)
    assert "Still stuck? work it by hand first" in capsys.readouterr().out
