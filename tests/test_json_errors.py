"""What a JSON value is, and where a validation error sits, in the words every endpoint uses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from labsupport.json_errors import error_path, json_type


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "null"),
        (True, "a boolean"),
        (3, "a number"),
        (2.5, "a number"),
        ("x", "a string"),
        ([1], "an array"),
        ({"a": 1}, "an object"),
    ],
    ids=["null", "bool", "int", "float", "str", "list", "dict"],
)
def test_json_values_are_named_as_json_calls_them(value: object, words: str) -> None:
    assert json_type(value) == words


class Part(BaseModel):
    text: str


class Message(BaseModel):
    content: str | list[Part]


class Body(BaseModel):
    messages: list[Message]


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"messages": [{"content": [{"text": 1}]}]}, "messages[0].content[0].text"),
        ({"messages": [{}]}, "messages[0].content"),
        ({}, "messages"),
    ],
    ids=["union-branch-dropped", "missing-field", "missing-top-level"],
)
def test_error_path_walks_the_input_and_drops_union_labels(
    payload: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(payload)
    errors = caught.value.errors(include_url=False)
    assert path in [error_path(error, payload) for error in errors]
