"""The arguments every agent checks before its first event."""

from __future__ import annotations

import pytest

from labsupport.agent_args import MAX_QUESTION_CHARS, check_k, check_question, check_run_id


@pytest.mark.parametrize(
    ("question", "error", "message"),
    [
        (7, TypeError, "question must be a str, got int"),
        ("  ", ValueError, "question must not be empty"),
        ("x" * 2001, ValueError, "question is 2001 characters long; the limit is 2000"),
    ],
    ids=["not-a-str", "blank", "too-long"],
)
def test_bad_questions_are_refused_with_the_reason(
    question: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        check_question(question)
    assert str(caught.value) == message


def test_good_arguments_pass_through() -> None:
    assert check_question("x" * MAX_QUESTION_CHARS) == "x" * MAX_QUESTION_CHARS
    assert check_k(10) == 10
    assert check_run_id(None) is None
    assert check_run_id("run_a") == "run_a"


@pytest.mark.parametrize("k", [0, 11, True, 2.0, "3"])
def test_k_outside_one_to_ten_is_refused(k: object) -> None:
    with pytest.raises(ValueError, match="k must be an int from 1 to 10"):
        check_k(k)


@pytest.mark.parametrize("run_id", ["", 5])
def test_empty_or_non_str_run_id_is_refused(run_id: object) -> None:
    with pytest.raises(ValueError, match="run_id must be a non-empty str"):
        check_run_id(run_id)
