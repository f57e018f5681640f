"""The mock agent: its event sequence, sync/async parity, errors, and stopping."""

from __future__ import annotations

import asyncio

import pytest

from labsupport import MockLLM, achat_stream, chat_stream, check_stream
from labsupport.events import Event

QUESTION = "Who runs billing?"


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def collapse(seq: list[str]) -> list[str]:
    """Runs of the same type folded into one, e.g. token, token -> token."""
    return [t for i, t in enumerate(seq) if i == 0 or seq[i - 1] != t]


def test_event_sequence_follows_the_documented_story(llm: MockLLM) -> None:
    events = list(chat_stream(QUESTION, llm=llm))
    assert collapse(types(events)) == [
        "status", "thought", "status", "tool_call", "tool_result",
        "citation", "status", "token", "cost", "done",
    ]  # fmt: skip
    statuses = [e.message for e in events if e.type == "status"]
    assert statuses == ["thinking", "searching the knowledge base", "writing the answer"]
    assert check_stream(events) == []


def test_answer_cites_exactly_the_citation_events(llm: MockLLM) -> None:
    events = list(chat_stream(QUESTION, llm=llm))
    answer = "".join(e.text for e in events if e.type == "token")
    cited = [e.doc_id for e in events if e.type == "citation"]
    assert cited == ["D1", "D3"]
    assert answer.endswith(f"[{', '.join(cited)}]")


def test_cost_event_matches_the_model_counters(llm: MockLLM) -> None:
    events = list(chat_stream(QUESTION, llm=llm))
    cost = next(e for e in events if e.type == "cost")
    assert cost.completion_tokens == llm.tokens_generated == sum(e.type == "token" for e in events)
    assert cost.prompt_tokens == llm.prompt_tokens
    assert cost.usd == pytest.approx(llm.cost_usd)


def test_same_question_same_events_every_run() -> None:
    runs = [
        [e.to_json() for e in chat_stream(QUESTION, llm=MockLLM.instant(), run_id="run_a")]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


async def test_async_stream_yields_the_same_events_as_sync() -> None:
    sync_events = list(chat_stream(QUESTION, llm=MockLLM.instant(), run_id="run_same"))
    async_events = [
        e async for e in achat_stream(QUESTION, llm=MockLLM.instant(), run_id="run_same")
    ]
    assert async_events == sync_events


def test_unrelated_question_gets_an_honest_answer_without_citations(llm: MockLLM) -> None:
    events = list(chat_stream("What is the weather in Paris?", llm=llm))
    assert "citation" not in types(events)
    assert "could not find" in "".join(e.text for e in events if e.type == "token")
    assert check_stream(events) == []


def test_model_failure_becomes_one_error_event_and_nothing_after() -> None:
    events = list(chat_stream(QUESTION, llm=MockLLM.instant(fail_after_tokens=2)))
    assert types(events)[-3:] == ["token", "token", "error"]
    error = events[-1]
    assert error.type == "error" and error.code == "model_error"
    assert "failed after 2 tokens" in error.message
    assert check_stream(events) == []


@pytest.mark.parametrize(
    ("question", "error", "message"),
    [
        ("", ValueError, "question must not be empty"),
        ("   ", ValueError, "question must not be empty"),
        ("x" * 2001, ValueError, "question is 2001 characters long; the limit is 2000"),
        (None, TypeError, "question must be a str, got NoneType"),
    ],
    ids=["empty", "blank", "too-long", "none"],
)
def test_bad_questions_raise_before_any_event(
    question: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        chat_stream(question)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        achat_stream(question)  # type: ignore[arg-type]


def test_bad_k_raises() -> None:
    with pytest.raises(ValueError, match="k must be an int from 1 to 10, got 0"):
        chat_stream(QUESTION, k=0)


def test_closing_sync_stream_stops_token_generation_and_cost(llm: MockLLM) -> None:
    stream = chat_stream(QUESTION, llm=llm)
    seen = []
    for event in stream:
        seen.append(event)
        if sum(e.type == "token" for e in seen) == 3:
            break
    stream.close()
    spent = llm.cost_usd
    assert llm.tokens_generated == 3
    assert "cost" not in types(seen) and "done" not in types(seen)
    assert check_stream(seen, cancelled=True) == []
    assert llm.cost_usd == spent, "no cost accrues after the stop"


async def test_aclose_stops_the_async_stream(llm: MockLLM) -> None:
    stream = achat_stream(QUESTION, llm=llm)
    tokens = 0
    async for event in stream:
        tokens += event.type == "token"
        if tokens == 4:
            break
    await stream.aclose()
    assert llm.tokens_generated == 4


async def test_cancelling_the_consuming_task_stops_the_model_and_propagates() -> None:
    llm = MockLLM(ttft=0.0, tokens_per_second=200, tool_delay=0.0)
    tokens: list[str] = []
    first_tokens = asyncio.Event()

    async def consume() -> None:
        async for event in achat_stream(QUESTION, llm=llm):
            if event.type == "token":
                tokens.append(event.text)
                if len(tokens) == 3:
                    first_tokens.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_tokens.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled(), "CancelledError must not be swallowed"
    generated = llm.tokens_generated
    await asyncio.sleep(0.1)  # 20 more tokens' worth of time at 200/s
    assert llm.tokens_generated == generated
    assert generated <= len(tokens) + 1


def test_finally_blocks_run_when_the_consumer_stops() -> None:
    llm = MockLLM.instant()
    stream = chat_stream(QUESTION, llm=llm)
    for event in stream:
        if event.type == "token":
            break
    stream.close()
    # The model's own stream was closed too: it cannot be resumed to bill more.
    assert llm.tokens_generated == 1
    assert list(stream) == []


def test_lesson_pacing_is_visible_in_wall_time() -> None:
    import time

    llm = MockLLM(ttft=0.2, tokens_per_second=100, tool_delay=0.1)
    start = time.monotonic()
    first = None
    for event in chat_stream(QUESTION, llm=llm):
        if event.type == "token" and first is None:
            first = time.monotonic() - start
    total = time.monotonic() - start
    assert first is not None and first >= 0.3  # tool delay + time to first token
    assert total >= 0.3 + 29 / 100  # then 30 tokens at 100 per second
