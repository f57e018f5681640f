"""Lesson 04's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from labsupport.checks import lesson04


def good_budget(stream: Iterator[Any], max_tokens: int) -> tuple[str, str]:
    texts: list[str] = []
    for event in stream:
        if event.type == "token":
            texts.append(event.text)
            if len(texts) == max_tokens:
                stream.close()  # type: ignore[attr-defined]
                return "".join(texts), "stopped"
    return "".join(texts), "finished"


def budget_without_close(stream: Iterator[Any], max_tokens: int) -> tuple[str, str]:
    texts: list[str] = []
    for event in stream:
        if event.type == "token":
            texts.append(event.text)
            if len(texts) == max_tokens:
                return "".join(texts), "stopped"
    return "".join(texts), "finished"


def budget_one_too_many(stream: Iterator[Any], max_tokens: int) -> tuple[str, str]:
    texts: list[str] = []
    for event in stream:
        if event.type == "token":
            if len(texts) == max_tokens:
                stream.close()  # type: ignore[attr-defined]
                return "".join(texts), "stopped"
            texts.append(event.text)
    return "".join(texts), "finished"


def budget_always_stopped(stream: Iterator[Any], max_tokens: int) -> tuple[str, str]:
    text, _ = good_budget(stream, max_tokens)
    return text, "stopped"


def test_answer_with_budget_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson04.answer_with_budget(good_budget)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (budget_without_close, "call stream.close()"),
        (budget_one_too_many, "asking for one more makes the model write it"),
        (budget_always_stopped, "return the whole text and 'finished'"),
        (lambda stream, n: None, "join the texts of the first 5 token events"),
    ],
    ids=["no-close", "one-too-many", "always-stopped", "unfinished"],
)
def test_answer_with_budget_hints_at_the_mistake(
    func: object, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson04.answer_with_budget(func)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:") and hint in out


async def good_consume(stream: AsyncIterator[Any], tokens: list[str]) -> None:
    async for event in stream:
        if event.type == "token":
            tokens.append(event.text)


async def swallowing_consume(stream: AsyncIterator[Any], tokens: list[str]) -> None:
    try:
        async for event in stream:
            if event.type == "token":
                tokens.append(event.text)
    except asyncio.CancelledError:
        pass


def sync_consume(stream: Any, tokens: list[str]) -> None:
    return None


async def test_consume_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert await lesson04.consume(good_consume)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (swallowing_consume, "end the except block with `raise`"),
        (sync_consume, "async def consume"),
    ],
    ids=["swallows", "not-async"],
)
async def test_consume_hints_at_the_mistake(
    func: object, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not await lesson04.consume(func)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:") and hint in out
