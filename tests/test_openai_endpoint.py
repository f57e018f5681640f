"""The OpenAI-compatible endpoint, driven by the real openai SDK over a real socket."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from pydantic import ValidationError

from labsupport.agent import chat_stream
from labsupport.kernel_server import start_server
from labsupport.llm_config import load_config
from labsupport.mockllm import NO_ANSWER, MockLLM, count_tokens
from labsupport.openai_endpoint import CompletionStats, create_openai_router
from labsupport.openai_wire import ChatCompletionRequest, error_from_validation
from labsupport.search_tool import SEARCH_TOOL
from labsupport.server import ServerSettings
from tests.support.openai_server import MockEndpoints

MODEL = "lab-mock-1"
BILLING = [{"role": "user", "content": "Who runs billing?"}]
BILLING_ANSWER = (
    "The Payments team runs billing, invoicing and refunds for every Kestrel product. "
    "Dana Okafor leads the Payments team, which runs billing. [D1, D3]"
)


@pytest.fixture
def client(lab: MockEndpoints) -> openai.OpenAI:
    return lab["instant"].client()


def _content(stream: Any) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _ask_tool_call(client: openai.OpenAI) -> tuple[list[Any], dict[str, Any]]:
    """Stream a tool-call turn; returns its chunks and the assistant message to send back."""
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=BILLING, tools=[SEARCH_TOOL], stream=True
        )
    )
    first = chunks[0].choices[0].delta.tool_calls[0]
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": first.id,
                "type": "function",
                "function": {"name": first.function.name, "arguments": arguments},
            }
        ],
    }
    return chunks, message


# -- answers ---------------------------------------------------------------------------


def test_models_lists_the_mock_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["lab-mock-1", "lab-mock-large"]
    assert client.models.retrieve("lab-mock-large").id == "lab-mock-large"


@pytest.mark.parametrize(
    "question",
    [
        "Who runs billing?",
        "What happens if nobody acknowledges a page?",
        "What is the weather on Mars?",
    ],
    ids=["billing", "escalation", "unanswerable"],
)
def test_streamed_content_equals_non_streamed_content(client: openai.OpenAI, question: str) -> None:
    messages = [{"role": "user", "content": question}]
    whole = client.chat.completions.create(model=MODEL, messages=messages)
    streamed = _content(client.chat.completions.create(model=MODEL, messages=messages, stream=True))
    assert whole.choices[0].finish_reason == "stop"
    assert streamed == whole.choices[0].message.content
    assert streamed


def test_answer_without_tools_is_the_mock_agents_answer(client: openai.OpenAI) -> None:
    streamed = _content(client.chat.completions.create(model=MODEL, messages=BILLING, stream=True))
    events = chat_stream("Who runs billing?", llm=MockLLM.instant())
    assert streamed == BILLING_ANSWER
    assert streamed == "".join(e.text for e in events if e.type == "token")


def test_unanswerable_question_gets_the_no_answer_reply(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "What is the weather on Mars?"}]
    )
    assert reply.choices[0].message.content == NO_ANSWER


def test_stream_is_chunk_data_lines_ending_with_done(lab: MockEndpoints) -> None:
    body = {"model": MODEL, "messages": BILLING, "stream": True}
    with httpx.stream("POST", f"{lab['instant'].base_url}/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-accel-buffering"] == "no"
        raw = r.read().decode()
    blocks = raw.split("\n\n")
    assert blocks[-1] == ""
    assert blocks[-2] == "data: [DONE]"
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks[:-2]]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks[:-1])
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}


def test_usage_chunk_comes_last_and_equals_the_mocks_count(lab: MockEndpoints) -> None:
    client, llm = lab["instant"].client(), lab["instant"].llm
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=BILLING, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert last.usage.completion_tokens == count_tokens(BILLING_ANSWER) == llm.tokens_generated
    assert last.usage.prompt_tokens == llm.prompt_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_no_usage_chunk_unless_asked(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=BILLING, stream=True))
    assert all(c.choices and c.usage is None for c in chunks)


def test_non_streamed_usage_counts_the_answer(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=BILLING)
    assert reply.usage is not None
    assert reply.usage.completion_tokens == count_tokens(BILLING_ANSWER)


def test_max_tokens_cuts_the_answer_with_finish_reason_length(lab: MockEndpoints) -> None:
    client, llm = lab["instant"].client(), lab["instant"].llm
    reply = client.chat.completions.create(model=MODEL, messages=BILLING, max_tokens=4)
    assert reply.choices[0].message.content == "The Payments team runs"
    assert reply.choices[0].finish_reason == "length"
    assert llm.tokens_generated == 4


def test_unknown_parameters_are_ignored(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=BILLING, temperature=0.2, seed=7, user="someone"
    )
    assert reply.choices[0].message.content == BILLING_ANSWER


async def test_async_client_streams_the_same_content(lab: MockEndpoints) -> None:
    client = lab["instant"].async_client()
    stream = await client.chat.completions.create(
        model=MODEL, messages=BILLING, stream=True, stream_options={"include_usage": True}
    )
    parts, usage = [], None
    async for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
        usage = chunk.usage or usage
    await client.close()
    assert "".join(parts) == BILLING_ANSWER
    assert usage is not None and usage.completion_tokens == count_tokens(BILLING_ANSWER)


# -- tool calls ---------------------------------------------------------------------------


def test_tool_call_streams_id_and_name_first_then_split_arguments(client: openai.OpenAI) -> None:
    chunks, message = _ask_tool_call(client)
    first = chunks[0].choices[0].delta
    assert first.role == "assistant"
    assert first.content is None
    call = first.tool_calls[0]
    assert (call.index, call.type, call.function.name, call.function.arguments) == (
        0,
        "function",
        "search_kb",
        "",
    )
    assert call.id.startswith("call_")
    pieces = [c.choices[0].delta.tool_calls for c in chunks[1:-1]]
    assert len(pieces) > 3  # the arguments really are split
    assert all(p[0].index == 0 and p[0].id is None and p[0].function.name is None for p in pieces)
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {
        "query": "runs billing",
        "k": 3,
    }
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_non_streamed_tool_call_has_the_same_arguments(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=BILLING, tools=[SEARCH_TOOL])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == "search_kb"
    assert json.loads(call.function.arguments) == {"query": "runs billing", "k": 3}


def test_tool_result_follow_up_streams_the_grounded_answer(client: openai.OpenAI) -> None:
    _, message = _ask_tool_call(client)
    result = json.dumps([{"doc_id": "D1"}, {"doc_id": "D3"}, {"doc_id": "D7"}])
    messages = [
        *BILLING,
        message,
        {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": result},
    ]
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=messages, tools=[SEARCH_TOOL], stream=True
        )
    )
    assert _content(chunks) == BILLING_ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_follow_up_answers_only_from_the_documents_the_tool_returned(client: openai.OpenAI) -> None:
    _, message = _ask_tool_call(client)
    messages = [
        *BILLING,
        message,
        {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "[D3] Dana"},
    ]
    reply = client.chat.completions.create(model=MODEL, messages=messages, tools=[SEARCH_TOOL])
    assert reply.choices[0].message.content == (
        "Dana Okafor leads the Payments team, which runs billing. [D3]"
    )


def test_tool_choice_none_answers_without_calling(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=BILLING, tools=[SEARCH_TOOL], tool_choice="none"
    )
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].message.content == BILLING_ANSWER


def test_search_tool_without_k_gets_only_a_query(client: openai.OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "kb-search",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
    reply = client.chat.completions.create(model=MODEL, messages=BILLING, tools=[tool])
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "kb-search"
    assert json.loads(call.function.arguments) == {"query": "runs billing"}


# -- errors ---------------------------------------------------------------------------------


_BAD_TOOL = {"type": "function", "function": {"name": "search kb!"}}


@pytest.mark.parametrize(
    ("request_args", "exception", "param"),
    [
        ({"model": "gpt-nope", "messages": BILLING}, openai.NotFoundError, "model"),
        ({"model": MODEL, "messages": []}, openai.BadRequestError, "messages"),
        (
            {"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]},
            openai.BadRequestError,
            "messages[0].role",
        ),
        (
            {"model": MODEL, "messages": BILLING, "tools": [_BAD_TOOL]},
            openai.BadRequestError,
            "tools[0].function.name",
        ),
        (
            {"model": MODEL, "messages": BILLING, "tools": [{"type": "retrieval"}]},
            openai.BadRequestError,
            "tools[0].type",
        ),
        (
            {
                "model": MODEL,
                "messages": [{"role": "tool", "tool_call_id": "call_x", "content": "[]"}],
            },
            openai.BadRequestError,
            "messages[0].tool_call_id",
        ),
        (
            {
                "model": MODEL,
                "messages": BILLING,
                "tools": [SEARCH_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "send_email"}},
            },
            openai.BadRequestError,
            "tool_choice",
        ),
        ({"model": MODEL, "messages": BILLING, "n": 2}, openai.BadRequestError, "n"),
    ],
    ids=[
        "unknown-model",
        "empty-messages",
        "unknown-role",
        "bad-function-name",
        "non-function-tool",
        "orphan-tool-result",
        "tool-choice-not-offered",
        "n-above-1",
    ],
)
def test_bad_request_raises_the_sdk_exception_naming_the_param(
    lab: MockEndpoints, request_args: dict[str, Any], exception: type[Exception], param: str
) -> None:
    client = lab["instant"].client()
    with pytest.raises(exception) as caught:
        client.chat.completions.create(**request_args)
    body = caught.value.body  # type: ignore[attr-defined]
    assert body["param"] == param
    assert body["type"] == "invalid_request_error"
    assert body["message"]
    assert lab["instant"].stats.rejected == 1
    assert lab["instant"].llm.requests == 0
    # The server keeps serving after refusing.
    assert client.chat.completions.create(model=MODEL, messages=BILLING).choices


@pytest.mark.parametrize(
    ("body", "message", "param"),
    [
        ({"model": MODEL}, "Missing required parameter: 'messages'.", "messages"),
        ({"messages": BILLING}, "Missing required parameter: 'model'.", "model"),
        ("not json", "We could not parse the JSON body of your request.", None),
    ],
    ids=["no-messages", "no-model", "not-json"],
)
def test_malformed_body_gets_openais_error_shape(
    lab: MockEndpoints, body: Any, message: str, param: str | None
) -> None:
    url = f"{lab['instant'].base_url}/chat/completions"
    content = body if isinstance(body, str) else json.dumps(body)
    r = httpx.post(url, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["message"], error["param"], error["type"]) == (
        message,
        param,
        "invalid_request_error",
    )


def test_model_failure_mid_stream_raises_after_the_tokens_sent(lab: MockEndpoints) -> None:
    client = lab["failing"].client()
    stream = client.chat.completions.create(model=MODEL, messages=BILLING, stream=True)
    parts = []
    with pytest.raises(openai.APIError, match="fail_after_tokens=5") as caught:
        for chunk in stream:
            parts.append(chunk.choices[0].delta.content or "")
    assert "".join(parts) == "The Payments team runs billing"
    assert caught.value.body["code"] == "model_error"  # type: ignore[index]
    assert lab["failing"].stats.streams_failed == 1


def test_model_failure_without_streaming_is_a_server_error(lab: MockEndpoints) -> None:
    with pytest.raises(openai.InternalServerError, match="fault injection"):
        lab["failing"].client().chat.completions.create(model=MODEL, messages=BILLING)


# -- stopping -------------------------------------------------------------------------------


def _wait_for(condition: Any, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_closing_the_stream_stops_generation(lab: MockEndpoints) -> None:
    paced = lab["paced"]
    stream = paced.client().chat.completions.create(model=MODEL, messages=BILLING, stream=True)
    received = 0
    for chunk in stream:
        received += bool(chunk.choices[0].delta.content)
        if received == 3:
            break
    stream.close()
    assert _wait_for(lambda: paced.stats.streams_disconnected == 1)
    generated = paced.llm.tokens_generated
    time.sleep(0.2)  # at 50 tokens/s, ten more tokens had the model kept going
    assert paced.llm.tokens_generated == generated
    assert generated < count_tokens(BILLING_ANSWER)
    assert paced.stats.streams_finished == 0


# -- in process -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL, "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"model": MODEL, "messages": BILLING, "tool_choice": "maybe"}, "tool_choice"),
        ({"model": MODEL, "messages": BILLING, "max_tokens": 0}, "max_tokens"),
        ({"model": "", "messages": BILLING}, "model"),
    ],
    ids=["content-not-text", "tool-choice-unknown", "max-tokens-zero", "empty-model"],
)
def test_validation_error_names_the_param_as_openai_spells_it(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatCompletionRequest.model_validate(body)
    error = error_from_validation(caught.value, body)
    assert error.status == 400
    assert error.body.error.param == param
    assert error.body.error.message.startswith(f"Invalid value for '{param}': ")


def test_router_refuses_a_llm_that_is_not_a_mock() -> None:
    with pytest.raises(TypeError, match="llm must be a MockLLM"):
        create_openai_router("gpt")  # type: ignore[arg-type]


def test_router_refuses_an_empty_model_list() -> None:
    with pytest.raises(ValueError, match="models must be a non-empty list"):
        create_openai_router(models=[])


def test_stats_refuse_an_unknown_counter() -> None:
    with pytest.raises(ValueError, match="name must be one of"):
        CompletionStats().add("tokens")


_BODY_FOR_CAP: dict[str, Any] = {
    "model": "lab-mock-1",
    "messages": [{"role": "user", "content": "Who runs billing?"}],
}


def test_completions_count_against_the_servers_cap_and_get_openais_429() -> None:
    llm = MockLLM(ttft=0.0, tokens_per_second=20.0, tool_delay=0.0)
    settings = ServerSettings(llm=llm, max_active_runs=1)
    with start_server(settings=settings, name="test_openai_endpoint-cap") as server:
        client = load_config(server.url_for("/v1"), environ={}).client(max_retries=0)
        held = client.chat.completions.create(
            model="lab-mock-1",
            messages=[{"role": "user", "content": "Who runs billing?"}],
            stream=True,
        )
        next(iter(held))
        busy = httpx.post(
            f"{server.base_url}/v1/chat/completions", headers=server.headers, json=_BODY_FOR_CAP
        )
        run = httpx.post(
            f"{server.base_url}/chat/stream", headers=server.headers, json={"message": "hi"}
        )
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="lab-mock-1", messages=_BODY_FOR_CAP["messages"])
        held.close()
        deadline = time.monotonic() + 5
        while (
            httpx.get(server.url_for("/stats")).json()["active_runs"]
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        stats = httpx.get(server.url_for("/stats")).json()
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["type"] == "rate_limit_error"
    assert "max_active_runs" in busy.json()["error"]["message"]
    assert run.status_code == 429, "a completion and a run share one cap"
    assert stats["active_runs"] == 0 and stats["runs_refused"] >= 3
