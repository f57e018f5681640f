"""Request bodies are checked before anything streams; each refusal names what is wrong."""

from __future__ import annotations

import json

import pytest

from labsupport.request_checks import check_message, problem


def detail(response: object) -> tuple[int, str]:
    status = response.status_code  # type: ignore[attr-defined]
    return status, json.loads(response.body)["detail"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (None, "the message is required"),
        (3, "the message must be a string, got a number"),
        ([], "the message must be a string, got an array"),
        (" ", "the message must not be empty"),
        ("abcd", "the message is 4 characters long; the limit is 3 characters"),
    ],
    ids=["missing", "number", "array", "blank", "too-long"],
)
def test_bad_messages_get_a_422_that_names_the_problem(message: object, expected: str) -> None:
    assert detail(check_message(message, "the message", 3)) == (422, expected)


def test_a_good_message_passes_through_unchanged() -> None:
    assert check_message("abc", "the message", 3) == "abc"


def test_problem_is_a_json_detail_with_the_status() -> None:
    assert detail(problem(415, "Content-Type must be application/json")) == (
        415,
        "Content-Type must be application/json",
    )
