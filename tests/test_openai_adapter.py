"""From openai SDK streams to lab events: assembly in process, whole streams over a real socket."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from labsupport.events import Event
from labsupport.lifecycle import check_stream
from labsupport.mockllm import count_tokens
from labsupport.numbering import Numbering
from labsupport.openai_adapter import (
    ChunkReader,
    aevents_from_stream,
    error_code,
    events_from_stream,
    price_for,
)
from labsupport.prices import PRICES, Prices
from labsupport.search_tool import SEARCH_TOOL
from labsupport.tool_calls import ToolArgumentsError
from tests.support.openai_server import UNPRICED_MODEL, MockEndpoints

MODEL = "lab-mock-1"
BILLING = [{"role": "user", "content": "Who runs billing?"}]
USAGE = {"include_usage": True}


# -- prices and error codes (in process) --------------------------------------------------------


def test_price_for_knows_the_mocks_prices() -> None:
    assert price_for("lab-mock-1") == PRICES["lab-mock-1"]


def test_price_for_matches_a_dated_snapshot_to_its_family() -> None:
    mini, full = Prices(0.15, 0.60), Prices(2.5, 10.0)
    prices = {"gpt-4o-mini": mini, "gpt-4o": full}
    assert price_for("gpt-4o-mini-2024-07-18", prices) is mini
    assert price_for("gpt-4o-2024-08-06", prices) is full


def test_price_for_an_unknown_model_is_none() -> None:
    assert price_for("acme-chat-1") is None
    assert price_for("lab-mock-10") is None


def test_given_prices_override_the_mocks() -> None:
    cheap = Prices(0.0, 0.0)
    assert price_for("lab-mock-1", {"lab-mock-1": cheap}) is cheap


def test_error_code_of_other_exceptions_is_internal_error() -> None:
    assert error_code(KeyError("x")) == "internal_error"


def test_reader_notes_a_stream_without_usage() -> None:
    reader = ChunkReader(Numbering("run_t"))
    notes = reader.cost_events()
    assert [e.type for e in notes] == ["status", "status", "cost"]
    assert "no usage" in notes[0].message  # type: ignore[union-attr]


# -- whole streams over a real socket -------------------------------------------------------


def _answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if e.type == "token")


def _stream(client: openai.OpenAI, **extra: Any) -> Any:
    return client.chat.completions.create(
        model=MODEL, messages=BILLING, stream=True, stream_options=USAGE, **extra
    )


def test_text_stream_becomes_tokens_cost_and_done(lab: MockEndpoints) -> None:
    endpoint = lab["instant"]
    client = endpoint.client()
    whole = client.chat.completions.create(model=MODEL, messages=BILLING)
    endpoint.reset()
    events = list(events_from_stream(_stream(client), run_id="run_a"))
    assert check_stream(events) == []
    assert _answer(events) == whole.choices[0].message.content
    assert [e.type for e in events[-2:]] == ["cost", "done"]
    cost = events[-2]
    assert cost.type == "cost"
    assert (cost.prompt_tokens, cost.completion_tokens) == (
        endpoint.llm.prompt_tokens,
        endpoint.llm.tokens_generated,
    )
    assert cost.completion_tokens == count_tokens(_answer(events))
    assert cost.usd == pytest.approx(PRICES[MODEL].cost(cost.prompt_tokens, cost.completion_tokens))


def test_tool_call_stream_becomes_a_tool_call_event(lab: MockEndpoints) -> None:
    events = list(events_from_stream(_stream(lab["instant"].client(), tools=[SEARCH_TOOL])))
    assert check_stream(events) == []
    assert [e.type for e in events] == ["status", "tool_call", "cost", "done"]
    status, call = events[0], events[1]
    assert status.type == "status" and status.message == "the model is calling search_kb"
    assert call.type == "tool_call"
    assert call.name == "search_kb"
    assert call.arguments == {"query": "runs billing", "k": 3}


async def test_async_stream_gives_the_same_events(lab: MockEndpoints) -> None:
    sync_events = list(events_from_stream(_stream(lab["instant"].client()), run_id="run_b"))
    client = lab["instant"].async_client()
    stream = await client.chat.completions.create(
        model=MODEL, messages=BILLING, stream=True, stream_options=USAGE
    )
    async_events = [e async for e in aevents_from_stream(stream, run_id="run_b")]
    await client.close()
    assert async_events == sync_events


def test_unknown_model_costs_zero_with_a_note(lab: MockEndpoints) -> None:
    client = lab["unpriced"].client()
    stream = client.chat.completions.create(
        model=UNPRICED_MODEL, messages=BILLING, stream=True, stream_options=USAGE
    )
    events = list(events_from_stream(stream))
    note, cost = events[-3], events[-2]
    assert note.type == "status" and "no price known for model 'acme-chat-1'" in note.message
    assert cost.type == "cost" and cost.usd == 0.0 and cost.completion_tokens > 0


def test_a_configured_price_prices_an_unknown_model(lab: MockEndpoints) -> None:
    client = lab["unpriced"].client()
    stream = client.chat.completions.create(
        model=UNPRICED_MODEL, messages=BILLING, stream=True, stream_options=USAGE
    )
    events = list(events_from_stream(stream, prices={UNPRICED_MODEL: Prices(1.0, 2.0)}))
    cost = events[-2]
    assert cost.type == "cost"
    assert cost.usd == pytest.approx(
        (cost.prompt_tokens * 1.0 + cost.completion_tokens * 2.0) / 1e6
    )
    assert all(e.type != "status" for e in events)


def test_failure_mid_stream_becomes_one_error_event(lab: MockEndpoints) -> None:
    events = list(events_from_stream(_stream(lab["failing"].client())))
    assert check_stream(events) == []
    assert _answer(events) == "The Payments team runs billing"
    error = events[-1]
    assert error.type == "error"
    assert error.code == "model_error"
    assert "fail_after_tokens=5" in error.message


def test_closing_the_events_closes_the_sdk_response(lab: MockEndpoints) -> None:
    paced = lab["paced"]
    stream = _stream(paced.client())
    events = events_from_stream(stream)
    seen = [next(events) for _ in range(3)]
    events.close()
    assert check_stream(seen, cancelled=True) == []
    assert stream.response.is_closed
    deadline = time.monotonic() + 2
    while paced.stats.streams_disconnected == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert paced.stats.streams_disconnected == 1
    generated = paced.llm.tokens_generated
    time.sleep(0.2)  # at 50 tokens/s, ten more tokens had the model kept going
    assert paced.llm.tokens_generated == generated < 30


def test_http_error_before_the_stream_is_raised_by_the_sdk(lab: MockEndpoints) -> None:
    # The adapter reads streams; refusing the request is the SDK's job, before any stream exists.
    with pytest.raises(openai.NotFoundError):
        lab["instant"].client().chat.completions.create(model="nope", messages=BILLING, stream=True)


def test_connection_refused_maps_to_connection_error() -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="lab", max_retries=0)
    with pytest.raises(openai.APIConnectionError) as caught:
        client.models.list()
    assert error_code(caught.value) == "connection_error"


def test_a_tool_call_with_bad_arguments_ends_the_run_as_bad_tool_call() -> None:
    assert error_code(ToolArgumentsError("not JSON")) == "bad_tool_call"
