"""labsupport.longanswer: an exact number of tokens, through the real agent, billed like any answer."""

from __future__ import annotations

import doctest

import pytest

import labsupport
from labsupport import chat_stream, count_tokens
from labsupport import longanswer as module
from labsupport.corpus import DOCUMENTS
from labsupport.longanswer import LongAnswerLLM, long_answer


@pytest.mark.parametrize("tokens", [1, 5, 17, 1000, 10_000])
def test_long_answer_has_exactly_the_requested_tokens(tokens: int) -> None:
    assert count_tokens(long_answer(tokens)) == tokens


def test_long_answer_quotes_the_documents_in_order_and_is_stable() -> None:
    text = long_answer(400)
    assert text.startswith(f"{DOCUMENTS[0].title} [{DOCUMENTS[0].id}]: {DOCUMENTS[0].text}\n\n")
    assert f"{DOCUMENTS[1].title} [{DOCUMENTS[1].id}]" in text
    assert long_answer(400) == text


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_token_count_is_rejected_with_its_value(bad: object) -> None:
    with pytest.raises(ValueError, match=f"tokens must be an int >= 1, got {bad!r}"):
        long_answer(bad)  # type: ignore[arg-type]


def test_the_agent_streams_and_bills_the_long_answer() -> None:
    llm = LongAnswerLLM.instant(answer_tokens=2500)
    events = list(chat_stream("Tell me everything", llm=llm))
    tokens = [e.text for e in events if e.type == "token"]
    assert len(tokens) == 2500
    assert "".join(tokens) == long_answer(2500)
    assert llm.tokens_generated == 2500
    cost = next(e for e in events if e.type == "cost")
    assert cost.completion_tokens == 2500
    assert events[-1].type == "done"


def test_repr_names_the_class_and_its_length() -> None:
    llm = LongAnswerLLM.instant(answer_tokens=12)
    assert repr(llm).startswith("LongAnswerLLM(model='lab-mock-1', ttft=0.0,")
    assert repr(llm).endswith(", answer_tokens=12)")


def test_docstring_examples_run() -> None:
    globs = {**vars(labsupport), **vars(module)}
    result = doctest.testmod(module, globs=globs)
    assert result.attempted > 0
    assert result.failed == 0
