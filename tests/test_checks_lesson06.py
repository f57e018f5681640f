"""Lesson 06's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from labsupport.checks import lesson06


def good_collect_text(stream: Iterable[Any]) -> str:
    pieces = []
    for chunk in stream:
        if not chunk.choices:
            continue
        piece = chunk.choices[0].delta.content or ""
        print(piece, end="", flush=True)
        pieces.append(piece)
    return "".join(pieces)


def indexes_every_chunk(stream: Iterable[Any]) -> str:
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


def silent_collect_text(stream: Iterable[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def keeps_none(stream: Iterable[Any]) -> str:
    return "".join(str(c.choices[0].delta.content) for c in stream if c.choices)


def good_assemble(chunks: Iterable[Any]) -> list[dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if not chunk.choices or not chunk.choices[0].delta.tool_calls:
            continue
        for delta in chunk.choices[0].delta.tool_calls:
            call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = call["id"] or delta.id
            call["name"] = call["name"] or delta.function.name
            call["arguments"] += delta.function.arguments or ""
    return [calls[i] for i in sorted(calls)]


def ignores_index(chunks: Iterable[Any]) -> list[dict[str, Any]]:
    call: dict[str, Any] = {"id": None, "name": None, "arguments": ""}
    for chunk in chunks:
        if not chunk.choices or not chunk.choices[0].delta.tool_calls:
            continue
        for delta in chunk.choices[0].delta.tool_calls:
            call["id"] = call["id"] or delta.id
            call["name"] = call["name"] or delta.function.name
            call["arguments"] += delta.function.arguments or ""
    return [call]


def reads_every_chunk(chunks: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"id": c.choices[0].delta.tool_calls[0].id} for c in chunks]


def test_collect_text_check_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson06.collect_text(good_collect_text)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (indexes_every_chunk, "the usage chunk at the end has choices == []"),
        (silent_collect_text, "print each piece with end='' and flush=True"),
        (keeps_none, "treating None as ''"),
        (lambda stream: None, "return ''.join(pieces)"),
    ],
    ids=["usage-chunk", "prints-nothing", "none-as-text", "unfinished"],
)
def test_collect_text_check_hints_at_the_mistake(
    func: Callable[[Any], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson06.collect_text(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet")
    assert hint in out


def test_assemble_check_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson06.assemble_tool_calls(good_assemble)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (ignores_index, "key the calls by delta.index"),
        (reads_every_chunk, "skip chunks whose delta has no tool_calls"),
        (lambda chunks: None, "return a list of"),
    ],
    ids=["ignores-index", "reads-every-chunk", "unfinished"],
)
def test_assemble_check_hints_at_the_mistake(
    func: Callable[[Any], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson06.assemble_tool_calls(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet")
    assert hint in out
