"""Tool calls put back together from streamed deltas, whatever shape the server sends them in."""

from __future__ import annotations

import pytest
from openai.types.chat.chat_completion_chunk import (
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)

from labsupport.tool_calls import AssembledToolCall, ToolArgumentsError, ToolCallAssembler


def _delta(
    index: int | None = 0, id: str | None = None, name: str | None = None, args: str | None = None
) -> ChoiceDeltaToolCall:
    function = ChoiceDeltaToolCallFunction(name=name, arguments=args)
    if index is None:
        # Some servers leave the index out; the SDK then builds the delta without one.
        return ChoiceDeltaToolCall.construct(id=id, function=function)
    return ChoiceDeltaToolCall(index=index, id=id, function=function)


def _assemble(*chunks: list[ChoiceDeltaToolCall]) -> list[tuple[str, str, str]]:
    assembler = ToolCallAssembler()
    for chunk in chunks:
        assembler.feed(chunk)
    return [(c.id, c.name, c.arguments) for c in assembler.calls]


def test_openai_shaped_deltas_assemble_into_one_call() -> None:
    calls = _assemble(
        [_delta(id="call_1", name="search_kb", args="")],
        [_delta(args='{"query"')],
        [_delta(args=': "billing", ')],
        [_delta(args='"k": 3}')],
    )
    assert calls == [("call_1", "search_kb", '{"query": "billing", "k": 3}')]


def test_parallel_calls_are_kept_apart_by_index() -> None:
    calls = _assemble(
        [_delta(0, "call_a", "search_kb", ""), _delta(1, "call_b", "search_kb", "")],
        [_delta(1, args='{"query": "on-call"}')],
        [_delta(0, args='{"query": "billing"}')],
    )
    assert calls == [
        ("call_a", "search_kb", '{"query": "billing"}'),
        ("call_b", "search_kb", '{"query": "on-call"}'),
    ]


@pytest.mark.parametrize(
    "chunks",
    [
        [
            [_delta(id="call_1", name="search_kb", args='{"query": ')],
            [_delta(id="call_1", name="search_kb", args='"billing"}')],
        ],
        [
            [_delta(id="call_1", name="search_kb", args="")],
            [_delta(args='{"query": "billing"}')],
            [_delta(id="call_1", name="search_kb", args='{"query": "billing"}')],
        ],
        [
            [_delta(id="call_1", name="search", args="")],
            [_delta(name="_kb", args='{"query": "billing"}')],
        ],
        [
            [_delta(None, id="call_1", name="search_kb", args='{"query"')],
            [_delta(None, args=': "billing"}')],
        ],
    ],
    ids=["id-and-name-repeated", "whole-arguments-resent", "name-in-pieces", "no-index"],
)
def test_duplicate_or_unusual_deltas_still_assemble_one_call(
    chunks: list[list[ChoiceDeltaToolCall]],
) -> None:
    assert _assemble(*chunks) == [("call_1", "search_kb", '{"query": "billing"}')]


def test_calls_reusing_index_zero_are_told_apart_by_id() -> None:
    calls = _assemble(
        [_delta(0, "call_a", "search_kb", '{"query": "billing"}')],
        [_delta(0, "call_b", "search_kb", "")],
        [_delta(0, args='{"query": "pages"}')],
    )
    assert calls == [
        ("call_a", "search_kb", '{"query": "billing"}'),
        ("call_b", "search_kb", '{"query": "pages"}'),
    ]


def test_feed_reports_a_call_once_when_its_name_arrives() -> None:
    assembler = ToolCallAssembler()
    first = assembler.feed([_delta(id="call_1", name="search_kb", args="")])
    again = assembler.feed([_delta(id="call_1", name="search_kb", args="{}")])
    assert [c.name for c in first] == ["search_kb"]
    assert again == []


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [('{"query": "bill', "not valid JSON"), ('["billing"]', "must be a JSON object")],
    ids=["truncated", "not-an-object"],
)
def test_bad_arguments_raise_naming_the_call(arguments: str, problem: str) -> None:
    call = AssembledToolCall(index=0, id="call_1", name="search_kb", arguments=arguments)
    with pytest.raises(ToolArgumentsError, match=problem) as caught:
        call.parsed_arguments()
    assert "search_kb" in str(caught.value)


def test_empty_arguments_parse_as_no_arguments() -> None:
    assert AssembledToolCall(index=0, name="ping").parsed_arguments() == {}
