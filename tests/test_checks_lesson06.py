"""Lesson 06's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from labsupport.checks import exercise, lesson06


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


def assemble_with(**change: Callable[[dict[str, Any], Any], None]) -> Callable[..., Any]:
    """good_assemble with one step done another way: ``take(call, delta)`` per delta."""

    def take(call: dict[str, Any], delta: Any) -> None:
        call["id"] = call["id"] or delta.id
        call["name"] = call["name"] or delta.function.name
        call["arguments"] += delta.function.arguments or ""

    step = change.get("take", take)

    def assemble(chunks: Iterable[Any]) -> Any:
        calls: dict[int, dict[str, Any]] = {}
        for chunk in chunks:
            if not chunk.choices or not chunk.choices[0].delta.tool_calls:
                continue
            for delta in chunk.choices[0].delta.tool_calls:
                step(
                    calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""}),
                    delta,
                )
        return change.get("finish", lambda calls: [calls[i] for i in sorted(calls)])(calls)

    return assemble


def overwrite_id(call: dict[str, Any], delta: Any) -> None:
    call["id"], call["name"] = delta.id, delta.function.name or call["name"]
    call["arguments"] += delta.function.arguments or ""


def overwrite_arguments(call: dict[str, Any], delta: Any) -> None:
    call["id"] = call["id"] or delta.id
    call["name"] = call["name"] or delta.function.name
    call["arguments"] = delta.function.arguments or call["arguments"]


overwrites_id = assemble_with(take=overwrite_id)
overwrites_arguments = assemble_with(take=overwrite_arguments)
reversed_order = assemble_with(finish=lambda calls: [calls[i] for i in sorted(calls, reverse=True)])
returns_a_dict = assemble_with(finish=lambda calls: calls)
returns_tuples = assemble_with(finish=lambda calls: [tuple(c.values()) for c in calls.values()])


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


ASSEMBLE_MISTAKES = [
    (ignores_index, "returned 1 call(s), expected 2", "delta.index"),
    (reads_every_chunk, "raised", "skip chunks whose delta has no tool_calls"),
    (lambda chunks: None, "returned None", "return a list of"),
    (returns_a_dict, "returned a dict, not a list", "one dict per call"),
    (returns_tuples, "call 0 is (", "exactly the keys 'id', 'name' and 'arguments'"),
    (overwrites_id, "has id None", "the id and the name come in a call's first delta only"),
    (overwrites_arguments, "has arguments '}'", "a few characters per delta"),
    (reversed_order, "in the wrong order", "in the order of their index"),
]
ASSEMBLE_IDS = [
    "ignores-index",
    "reads-every-chunk",
    "unfinished",
    "dict-not-list",
    "tuples",
    "overwrites-id",
    "overwrites-arguments",
    "reversed",
]


@pytest.mark.parametrize(("func", "problem", "hint"), ASSEMBLE_MISTAKES, ids=ASSEMBLE_IDS)
def test_assemble_check_hints_at_the_mistake(
    func: Callable[[Any], Any], problem: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson06.assemble_tool_calls(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet")
    assert problem in out and hint in out


@pytest.mark.parametrize(("func", "problem", "hint"), ASSEMBLE_MISTAKES, ids=ASSEMBLE_IDS)
def test_assemble_check_nudges_first_and_helps_more_on_the_second_failed_attempt(
    func: Callable[[Any], Any], problem: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A freshly decorated check: its own count of attempts, as in a new kernel.
    check = exercise(lesson06.assemble_tool_calls.__wrapped__)  # type: ignore[attr-defined]
    assert not check(func)
    first = capsys.readouterr().out
    assert hint in first and "Still stuck?" not in first
    assert not check(func)
    second = capsys.readouterr().out
    assert second.startswith(first.rstrip("\n"))
    stronger = second.split("Still stuck? ", 1)[1]
    assert stronger.strip() and stronger.strip() not in first


def test_the_stronger_hints_lead_to_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    check = exercise(lesson06.assemble_tool_calls.__wrapped__)  # type: ignore[attr-defined]
    assert not check(ignores_index)
    assert not check(ignores_index)
    assert "calls.setdefault(delta.index" in capsys.readouterr().out
    assert check(good_assemble)
