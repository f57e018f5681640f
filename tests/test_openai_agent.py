"""The SDK agent: function calling then the answer, against the mock endpoint over a real socket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai
import pytest

from labsupport.agent import chat_stream
from labsupport.events import Event
from labsupport.lifecycle import check_stream
from labsupport.mockllm import MockLLM
from labsupport.openai_agent import aopenai_chat_stream, openai_chat_stream
from labsupport.prices import PRICES
from labsupport.runstate import RunState
from tests.support.openai_server import MockEndpoints

QUESTION = "Who runs billing?"


def _answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if e.type == "token")


def _without_ids(events: list[Event]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.to_dict().items() if k != "call_id"} for e in events]


def test_run_tells_the_tool_phase_then_streams_the_answer(lab: MockEndpoints) -> None:
    events = list(openai_chat_stream(QUESTION, client=lab["instant"].client(), run_id="run_s"))
    assert check_stream(events) == []
    kinds = [e.type for e in events]
    first_token = kinds.index("token")
    assert kinds[:first_token] == [
        "status",
        "status",
        "thought",
        "tool_call",
        "status",
        "tool_result",
        "status",
    ]
    assert kinds[first_token:] == ["token"] * kinds.count("token") + [
        "citation",
        "citation",
        "cost",
        "done",
    ]
    messages = [e.message for e in events if e.type == "status"]
    assert messages == [
        "thinking",
        "the model is calling search_kb",
        "searching the knowledge base",
        "writing the answer",
    ]
    call = events[3]
    assert call.type == "tool_call"
    assert call.arguments == {"query": "runs billing", "k": 3}


def test_answer_and_citations_match_the_mock_agent(lab: MockEndpoints) -> None:
    events = list(openai_chat_stream(QUESTION, client=lab["instant"].client()))
    mock_events = list(chat_stream(QUESTION, llm=MockLLM.instant()))
    assert _answer(events) == _answer(mock_events)
    assert [e.doc_id for e in events if e.type == "citation"] == ["D1", "D3"]
    assert [e.sources for e in events if e.type == "tool_result"] == [
        e.sources for e in mock_events if e.type == "tool_result"
    ]


def test_cost_adds_up_both_turns_as_the_server_billed_them(lab: MockEndpoints) -> None:
    endpoint = lab["instant"]
    events = list(openai_chat_stream(QUESTION, client=endpoint.client()))
    cost = events[-2]
    assert cost.type == "cost"
    assert endpoint.llm.requests == 2
    assert cost.prompt_tokens == endpoint.llm.prompt_tokens
    assert cost.completion_tokens == endpoint.llm.tokens_generated
    assert cost.usd == pytest.approx(endpoint.llm.cost_usd)
    assert cost.usd == pytest.approx(
        PRICES["lab-mock-1"].cost(cost.prompt_tokens, cost.completion_tokens)
    )


def test_the_model_reads_the_tool_result_the_agent_sent(lab: MockEndpoints) -> None:
    # k=1: the tool returns only D1, so the grounded answer can cite nothing else.
    events = list(openai_chat_stream(QUESTION, client=lab["instant"].client(), k=1))
    assert [e.doc_id for e in events if e.type == "citation"] == ["D1"]
    assert _answer(events).endswith("[D1]")


def test_run_folds_into_a_finished_run_state(lab: MockEndpoints) -> None:
    state = RunState()
    for event in openai_chat_stream(QUESTION, client=lab["instant"].client()):
        state.apply(event)
    assert state.outcome == "finished"
    assert state.citation_ids == ["D1", "D3"]
    assert state.answer.endswith("[D1, D3]")


async def test_async_run_gives_the_same_events_as_the_sync_run(lab: MockEndpoints) -> None:
    sync_events = list(openai_chat_stream(QUESTION, client=lab["instant"].client(), run_id="run_t"))
    client = lab["instant"].async_client()
    async_events = [e async for e in aopenai_chat_stream(QUESTION, client=client, run_id="run_t")]
    await client.close()
    assert check_stream(async_events) == []
    assert _without_ids(async_events) == _without_ids(sync_events)


def test_model_failure_mid_answer_ends_with_one_error_event(lab: MockEndpoints) -> None:
    events = list(openai_chat_stream(QUESTION, client=lab["failing"].client()))
    assert check_stream(events) == []
    assert _answer(events) == "The Payments team runs billing"
    assert events[-1].type == "error"
    assert events[-1].code == "model_error"
    assert all(e.type != "cost" for e in events)


def test_unknown_model_ends_with_a_not_found_error(lab: MockEndpoints) -> None:
    events = list(openai_chat_stream(QUESTION, client=lab["instant"].client(), model="gpt-nope"))
    assert check_stream(events) == []
    assert [e.type for e in events] == ["status", "error"]
    assert events[-1].code == "not_found"
    assert "gpt-nope" in events[-1].message


def test_unreachable_server_ends_with_a_connection_error() -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="lab", max_retries=0)
    events = list(openai_chat_stream(QUESTION, client=client))
    assert check_stream(events) == []
    assert events[-1].type == "error"
    assert events[-1].code == "connection_error"


def _wait_for_disconnect(lab: MockEndpoints) -> int:
    paced = lab["paced"]
    deadline = time.monotonic() + 2
    while paced.stats.streams_disconnected == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert paced.stats.streams_disconnected == 1
    generated = paced.llm.tokens_generated
    time.sleep(0.2)  # at 50 tokens/s, ten more tokens had the model kept going
    assert paced.llm.tokens_generated == generated
    return generated


def test_closing_the_run_mid_answer_closes_the_sdk_response(lab: MockEndpoints) -> None:
    run = openai_chat_stream(QUESTION, client=lab["paced"].client())
    seen: list[Event] = []
    for event in run:
        seen.append(event)
        if sum(e.type == "token" for e in seen) == 3:
            break
    run.close()
    assert check_stream(seen, cancelled=True) == []
    generated = _wait_for_disconnect(lab)
    # 16 argument pieces of the tool call, then the answer's first tokens only.
    assert generated < 16 + 30
    assert lab["paced"].stats.streams_finished == 1


async def test_cancelling_the_async_run_closes_the_sdk_response(lab: MockEndpoints) -> None:
    client = lab["paced"].async_client()
    seen: list[Event] = []
    started = asyncio.Event()

    async def consume() -> None:
        async for event in aopenai_chat_stream(QUESTION, client=client):
            seen.append(event)
            if event.type == "token":
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.close()
    assert check_stream(seen, cancelled=True) == []
    await asyncio.to_thread(_wait_for_disconnect, lab)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"question": ""}, ValueError, "question must not be empty"),
        ({"question": QUESTION, "k": 0}, ValueError, "k must be an int from 1 to 10"),
        ({"question": QUESTION, "model": ""}, ValueError, "model must be a non-empty str"),
        ({"question": QUESTION, "max_tool_rounds": 0}, ValueError, "max_tool_rounds"),
    ],
    ids=["empty-question", "k-zero", "empty-model", "no-tool-rounds"],
)
def test_bad_arguments_raise_before_any_request(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="lab")
    with pytest.raises(error, match=match):
        openai_chat_stream(client=client, **kwargs)


def test_a_client_of_the_wrong_kind_is_refused() -> None:
    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="lab")
    with pytest.raises(TypeError, match=r"client must be an openai\.OpenAI"):
        openai_chat_stream(QUESTION, client=client)  # type: ignore[arg-type]
