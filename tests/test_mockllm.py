"""The mock model: grounded, deterministic answers, pacing knobs, billing counters, faults."""

from __future__ import annotations

import math

import pytest

from labsupport._pacing import Pause
from labsupport.corpus import get_document, search
from labsupport.mockllm import NO_ANSWER, MockLLM, MockModelError, count_tokens, tokenize
from labsupport.prices import PRICES


def tokens_of(stream: object) -> list[str]:
    return [t for t in stream if isinstance(t, str)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text", ["Hi, Dana.", "  leading and  double  spaces ", "[D1, D3]", "naïve café — ok?", ""]
)
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


def test_tokenize_keeps_the_leading_space_on_each_word() -> None:
    assert tokenize("Hi, Dana.") == ["Hi", ",", " Dana", "."]
    assert count_tokens("Hi, Dana.") == 4


def test_answer_is_grounded_in_the_given_documents_with_bracketed_citations() -> None:
    llm = MockLLM.instant()
    docs = [get_document("D1"), get_document("D3")]
    answer = "".join(tokens_of(llm.stream("Who runs billing?", docs)))
    assert answer.endswith("[D1, D3]")
    assert "Dana Okafor leads the Payments team, which runs billing." in answer
    # Every sentence of the answer comes from one of the documents.
    body = answer.rsplit(" [", 1)[0]
    assert all(s in (docs[0].text + " " + docs[1].text) for s in body.split(". ") if s)


def test_no_documents_gives_an_honest_no_answer() -> None:
    llm = MockLLM.instant()
    assert "".join(tokens_of(llm.stream("What is the weather?", []))) == NO_ANSWER
    assert "[" not in NO_ANSWER


def test_same_question_gives_the_same_tokens_every_run() -> None:
    docs = [h.doc for h in search("on-call rotation")]
    runs = [tokens_of(MockLLM.instant().stream("How does on-call work?", docs)) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_counters_bill_prompt_at_start_and_each_token_as_generated() -> None:
    llm = MockLLM.instant()
    stream = llm.stream("Who runs billing?", ["D3"])
    assert (llm.requests, llm.tokens_generated, llm.cost_usd) == (0, 0, 0.0), (
        "nothing billed before reading"
    )
    assert next(stream) == Pause(0.0)
    assert llm.requests == 1 and llm.prompt_tokens == stream.prompt_tokens > 0
    assert isinstance(next(stream), str)
    assert llm.tokens_generated == 1
    stream.close()
    assert llm.tokens_generated == 1, "closing stops generation"
    expected = PRICES["lab-mock-1"].cost(stream.prompt_tokens, 1)
    assert math.isclose(llm.cost_usd, expected) and math.isclose(stream.usd, expected)


def test_reset_counters_zeroes_everything() -> None:
    llm = MockLLM.instant()
    tokens_of(llm.stream("billing", ["D1"]))
    llm.reset_counters()
    assert (llm.requests, llm.prompt_tokens, llm.tokens_generated, llm.cost_usd) == (0, 0, 0, 0.0)


def test_pacing_knobs_become_pauses() -> None:
    llm = MockLLM(ttft=0.4, tokens_per_second=20, tool_delay=0)
    steps = list(llm.stream("Who runs billing?", ["D3"]))
    pauses = [s.seconds for s in steps if isinstance(s, Pause)]
    n_tokens = len(tokens_of(steps))
    assert pauses[0] == 0.4
    assert pauses[1:] == [0.05] * (n_tokens - 1)


def test_fail_after_tokens_raises_after_exactly_that_many() -> None:
    llm = MockLLM.instant(fail_after_tokens=3)
    got: list[str] = []
    with pytest.raises(MockModelError, match="failed after 3 tokens"):
        for step in llm.stream("Who runs billing?", ["D3"]):
            if isinstance(step, str):
                got.append(step)
    assert len(got) == 3 and llm.tokens_generated == 3


@pytest.mark.parametrize(
    ("knobs", "error", "message"),
    [
        ({"ttft": -1}, ValueError, "ttft must be a finite number of seconds >= 0, got -1"),
        ({"ttft": "fast"}, TypeError, "ttft must be a number of seconds, got 'fast'"),
        ({"tokens_per_second": 0}, ValueError, "tokens_per_second must be > 0, got 0"),
        ({"tool_delay": float("nan")}, ValueError, "tool_delay must be a finite number"),
        (
            {"fail_after_tokens": -2},
            ValueError,
            "fail_after_tokens must be an int >= 0 or None, got -2",
        ),
        ({"model": "gpt-9"}, ValueError, "model must be one of"),
    ],
    ids=[
        "negative-ttft",
        "text-ttft",
        "zero-rate",
        "nan-tool-delay",
        "negative-fault",
        "unknown-model",
    ],
)
def test_bad_knobs_are_rejected_with_a_precise_message(
    knobs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        MockLLM(**knobs)  # type: ignore[arg-type]


def test_search_query_keeps_the_question_keywords() -> None:
    assert MockLLM.instant().search_query("Who runs billing?") == "runs billing"


def test_bill_counts_tokens_spent_outside_stream_like_a_request() -> None:
    llm = MockLLM.instant()
    usd = llm.bill(prompt_tokens=100) + llm.bill(completion_tokens=16)
    assert (llm.requests, llm.prompt_tokens, llm.tokens_generated) == (1, 100, 16)
    assert usd == pytest.approx(llm.cost_usd)
    assert usd == pytest.approx(llm.prices.cost(100, 16))


@pytest.mark.parametrize("tokens", [-1, 1.5, True], ids=["negative", "float", "bool"])
def test_bill_refuses_what_is_not_a_token_count(tokens: object) -> None:
    with pytest.raises(ValueError, match="completion_tokens must be an int >= 0"):
        MockLLM.instant().bill(completion_tokens=tokens)  # type: ignore[arg-type]


def test_stream_text_paces_and_bills_any_text_and_can_skip_fault_injection() -> None:
    llm = MockLLM.instant(fail_after_tokens=1)
    stream = llm.stream_text("read this", '{"query": "billing"}', can_fail=False)
    text = "".join(step for step in stream if isinstance(step, str))
    assert text == '{"query": "billing"}'
    assert llm.tokens_generated == stream.completion_tokens == len(tokenize(text))
    assert llm.prompt_tokens == stream.prompt_tokens == count_tokens("read this")
