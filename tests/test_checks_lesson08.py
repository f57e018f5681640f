"""Lesson 08's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labsupport.checks import exercise, lesson08

Log = list[tuple[int, str]]


# -- exercise 1: resume_plan ---------------------------------------------------------------


def good_plan(last_seen: int, log: Log) -> tuple[Log, int]:
    replay = [entry for entry in log if entry[0] > last_seen]
    return replay, replay[-1][0] if replay else last_seen


def plan_from_the_newest_entry(last_seen: int, log: Log) -> tuple[Log, int]:
    replay = [entry for entry in log if entry[0] > last_seen]
    return replay, log[-1][0] if log else last_seen  # the same, read at the same moment


def plan_doubling_the_last_seen(last_seen: int, log: Log) -> tuple[Log, int]:
    replay = [entry for entry in log if entry[0] >= last_seen]
    return replay, replay[-1][0] if replay else last_seen


def plan_by_position(last_seen: int, log: Log) -> tuple[Log, int]:
    replay = log[last_seen + 1 :]
    return replay, replay[-1][0] if replay else last_seen


def plan_tailing_from_last_seen(last_seen: int, log: Log) -> tuple[Log, int]:
    return [entry for entry in log if entry[0] > last_seen], last_seen


def plan_tailing_past_the_log(last_seen: int, log: Log) -> tuple[Log, int]:
    replay = [entry for entry in log if entry[0] > last_seen]
    return replay, len(log) + 5


def plan_as_a_list(last_seen: int, log: Log) -> Any:
    return [[entry for entry in log if entry[0] > last_seen], last_seen]


def plan_raising_on_an_empty_log(last_seen: int, log: Log) -> tuple[Log, int]:
    replay = [entry for entry in log if entry[0] > last_seen]
    return replay, replay[-1][0]


@pytest.mark.parametrize("func", [good_plan, plan_from_the_newest_entry], ids=lambda f: f.__name__)
def test_resume_plan_passes_right_answers(
    func: Callable[[int, Log], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert lesson08.resume_plan(func)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (lambda last_seen, log: None, "returned None"),
        (plan_doubling_the_last_seen, "which the reader already has"),
        (plan_by_position, "a position in the list is not a seq"),
        (plan_tailing_from_last_seen, "would arrive a second time"),
        (plan_tailing_past_the_log, "would be lost"),
        (plan_as_a_list, "not a pair"),
        (plan_raising_on_an_empty_log, "IndexError"),
    ],
    ids=["none", "doubled", "by-position", "tail-from-last-seen", "tail-too-far", "list", "raises"],
)
def test_resume_plan_explains_the_usual_mistakes(
    func: Callable[[int, Log], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson08.resume_plan(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet") and hint in out
    assert "Traceback" not in out


def test_resume_plan_gets_stronger_help_from_the_second_failed_try(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = exercise(lesson08.resume_plan.__wrapped__)  # a count of attempts of its own
    check(plan_tailing_from_last_seen)
    assert "Still stuck?" not in capsys.readouterr().out
    check(plan_tailing_from_last_seen)
    assert (
        "Still stuck? tail_after is the seq of the last replayed entry" in capsys.readouterr().out
    )


def test_the_student_cannot_change_the_checks_log(capsys: pytest.CaptureFixture[str]) -> None:
    def popping(last_seen: int, log: Log) -> tuple[Log, int]:
        log.clear()
        return [], last_seen

    assert not lesson08.resume_plan(popping)
    assert lesson08.resume_plan(good_plan)  # the cases are intact afterwards


# -- exercise 2: resume_status -------------------------------------------------------------


def good_status(last_seen: int, first_kept: int, last_written: int) -> int:
    if last_seen > last_written:
        return 409
    if first_kept > last_seen + 1:
        return 410
    return 200


def status_off_by_one_on_trim(last_seen: int, first_kept: int, last_written: int) -> int:
    if last_seen > last_written:
        return 409
    return 410 if first_kept > last_seen else 200


def status_up_to_date_is_ahead(last_seen: int, first_kept: int, last_written: int) -> int:
    if last_seen >= last_written:
        return 409
    return 410 if first_kept > last_seen + 1 else 200


def status_404_for_trimmed(last_seen: int, first_kept: int, last_written: int) -> int:
    if last_seen > last_written:
        return 409
    return 404 if first_kept > last_seen + 1 else 200


def status_ignoring_the_future(last_seen: int, first_kept: int, last_written: int) -> int:
    return 410 if first_kept > last_seen + 1 else 200


def status_as_text(last_seen: int, first_kept: int, last_written: int) -> str:
    return "200"


def test_resume_status_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson08.resume_status(good_status)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (lambda *args: None, "returned None"),
        (status_off_by_one_on_trim, "are they all still in the log?"),
        (status_up_to_date_is_ahead, "up to date, not ahead of the run"),
        (status_404_for_trimmed, "404 says the run is unknown"),
        (status_ignoring_the_future, "never written"),
        (status_as_text, "the ints 200, 409, 410"),
        (lambda *args: 1 / 0, "ZeroDivisionError"),
        (lambda *args: True, "the ints 200, 409, 410"),
    ],
    ids=["none", "off-by-one", "up-to-date", "404", "future", "text", "raises", "bool"],
)
def test_resume_status_explains_the_usual_mistakes(
    func: Callable[[int, int, int], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson08.resume_status(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet") and hint in out
    assert "Traceback" not in out


def test_resume_status_gets_stronger_help_from_the_second_failed_try(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = exercise(lesson08.resume_status.__wrapped__)
    check(status_off_by_one_on_trim)
    assert "Still stuck?" not in capsys.readouterr().out
    check(status_off_by_one_on_trim)
    assert "Still stuck? 410 only when first_kept > last_seen + 1" in capsys.readouterr().out


def test_the_expected_plan_is_what_the_redis_store_replays() -> None:
    # The store resumes after ``seq`` from ``entry_id(seq)``: entries with a greater seq.
    from labsupport.redis_log import entry_id

    log = [(seq, f"event {seq}") for seq in range(3, 10)]
    replay, tail_after = lesson08.expected_plan(5, log)
    assert [seq for seq, _ in replay] == [6, 7, 8, 9] and tail_after == 9
    assert entry_id(tail_after) == "1-9"
