"""The Chat Completions request and error bodies, read against what the real openai SDK sends and raises.

The SDK runs over ``httpx.MockTransport``: every request body it builds is
checked by the lab's request model, and every error body the lab builds is
raised by the SDK as the exception class a student would catch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from pydantic import ValidationError

from labsupport.openai_wire import (
    ChatCompletionRequest,
    ChatMessage,
    WireError,
    error_from_validation,
)

USER = {"role": "user", "content": "Who runs billing?"}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the knowledge base.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
}


def _sdk(handler: Callable[[httpx.Request], httpx.Response]) -> openai.OpenAI:
    transport = httpx.MockTransport(handler)
    return openai.OpenAI(
        base_url="http://lab.test/v1",
        api_key="lab",
        http_client=httpx.Client(transport=transport),
        max_retries=0,
    )


def _sent_body(**params: Any) -> dict[str, Any]:
    """The JSON body the SDK sends for ``chat.completions.create(**params)``."""
    sent: list[dict[str, Any]] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(418, json=WireError(418, "captured").body.model_dump())

    with pytest.raises(openai.APIStatusError):
        _sdk(refuse).chat.completions.create(model="lab-mock", **params)
    return sent[0]


def test_a_streamed_request_with_usage_and_unknown_parameters_reads() -> None:
    body = _sent_body(
        messages=[USER],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.2,
        seed=7,
        user="alice",
    )
    request = ChatCompletionRequest.model_validate(body)
    assert request.stream and request.stream_options is not None
    assert request.stream_options.include_usage
    assert request.model_extra == {"temperature": 0.2, "seed": 7, "user": "alice"}


def test_a_tool_turn_round_trip_reads_every_message() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "search_docs", "arguments": "{}"},
    }
    body = _sent_body(
        messages=[
            {"role": "system", "content": "Answer from the documents."},
            USER,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "[]"},
        ],
        tools=[SEARCH],
        tool_choice={"type": "function", "function": {"name": "search_docs"}},
        max_completion_tokens=50,
    )
    request = ChatCompletionRequest.model_validate(body)
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert request.messages[2].tool_calls is not None
    assert request.messages[2].tool_calls[0].function.name == "search_docs"
    assert request.tools is not None and request.tools[0].function.name == "search_docs"
    assert request.token_limit == 50


def test_a_message_of_parts_reads_its_text_parts_only() -> None:
    parts = [
        {"type": "text", "text": "Who runs "},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": "billing?"},
    ]
    request = ChatCompletionRequest.model_validate(
        _sent_body(messages=[{"role": "user", "content": parts}])
    )
    assert request.messages[0].text() == "Who runs billing?"


def test_token_limit_takes_either_spelling_preferring_the_new_one() -> None:
    base: dict[str, Any] = {"model": "lab-mock", "messages": [USER]}
    assert ChatCompletionRequest.model_validate(base).token_limit is None
    assert ChatCompletionRequest.model_validate({**base, "max_tokens": 9}).token_limit == 9
    both = {**base, "max_tokens": 9, "max_completion_tokens": 4}
    assert ChatCompletionRequest.model_validate(both).token_limit == 4


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"role": "tool", "content": "[]"}, "a 'tool' message needs the 'tool_call_id' it answers"),
        ({"role": "user"}, "a 'user' message needs 'content'"),
        ({"role": "robot", "content": "hi"}, "Input should be 'system', 'developer'"),
    ],
    ids=["tool-without-call-id", "user-without-content", "unknown-role"],
)
def test_a_message_that_cannot_be_read_says_why(message: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ChatMessage.model_validate(message)


@pytest.mark.parametrize(
    ("body", "status", "message", "code"),
    [
        (
            {"messages": [USER]},
            400,
            "Missing required parameter: 'model'.",
            "missing_required_parameter",
        ),
        (
            {"model": "lab-mock", "messages": [USER], "n": 2},
            400,
            "Invalid value for 'n': Input should be less than or equal to 1.",
            "invalid_value",
        ),
        (
            {
                "model": "lab-mock",
                "messages": [USER],
                "tools": [{"type": "function", "function": {"name": "a b"}}],
            },
            400,
            "Invalid value for 'tools[0].function.name': String should match pattern",
            "invalid_value",
        ),
    ],
    ids=["missing-model", "n-above-one", "bad-function-name"],
)
def test_the_sdk_raises_the_lab_error_with_its_message_param_and_code(
    body: dict[str, Any], status: int, message: str, code: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatCompletionRequest.model_validate(body)
    error = error_from_validation(caught.value, body)
    assert error.status == status

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(error.status, json=error.body.model_dump())

    with pytest.raises(openai.BadRequestError) as raised:
        _sdk(answer).chat.completions.create(model="lab-mock", messages=[USER])
    assert raised.value.code == code
    assert raised.value.param == error.body.error.param
    assert error.body.error.message.startswith(message)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("status", "exception"),
    [(401, openai.AuthenticationError), (404, openai.NotFoundError), (429, openai.RateLimitError)],
)
def test_each_status_becomes_the_sdk_exception_a_student_catches(
    status: int, exception: type[openai.APIStatusError]
) -> None:
    error = WireError(status, "refused", type="lab_error", code="refused")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(error.status, json=error.body.model_dump())

    with pytest.raises(exception) as raised:
        _sdk(answer).chat.completions.create(model="lab-mock", messages=[USER])
    assert raised.value.status_code == status
    assert raised.value.type == "lab_error" and raised.value.code == "refused"
