"""One run of the SDK agent without I/O: chunks in, lab events out, turn by turn.

The chunks are the openai package's own ``ChatCompletionChunk`` models, shaped as a
provider streams them, so these cases need no server: a tool turn forced by
``tool_choice`` (``finish_reason="stop"``), two parallel calls keyed by ``index``,
a model that never stops calling tools.
"""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk

from labsupport.lifecycle import check_stream
from labsupport.openai_run import AgentRun, cited_ids, has_text, start_run

QUESTION = "Who runs billing?"


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "lab-mock-1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )


def call_chunks(index: int, call_id: str, arguments: str) -> list[ChatCompletionChunk]:
    """One tool call as providers stream it: id and name first, then the arguments in slices."""
    opening = {"index": index, "id": call_id, "type": "function"}
    opening["function"] = {"name": "search_kb", "arguments": ""}
    cut = len(arguments) // 2
    slices = [arguments[:cut], arguments[cut:]]
    return [chunk({"tool_calls": [opening]})] + [
        chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        for part in slices
    ]


def new_run(**overrides: Any) -> AgentRun:
    options: dict[str, Any] = {"model": None, "k": 3, "run_id": "run_t", "prices": None}
    return start_run(QUESTION, **{**options, "max_tool_rounds": 3, **overrides})


def play_turn(run: AgentRun, chunks: list[ChatCompletionChunk]) -> list[Any]:
    run.request()
    events = [event for c in chunks for event in run.feed(c)]
    return events + run.end_turn()


def test_a_tool_turn_is_told_by_its_tool_calls_even_when_finish_reason_is_stop() -> None:
    run = new_run()
    events = run.start()
    chunks = call_chunks(0, "call_a", '{"query": "billing"}')
    events += play_turn(run, [*chunks, chunk({}, finish_reason="stop")])
    assert not run.finished
    assert [e.type for e in events][-2:] == ["status", "tool_result"]
    assert run.messages[-1]["role"] == "tool" and run.messages[-1]["tool_call_id"] == "call_a"


def test_parallel_calls_keyed_by_index_each_run_once_in_order() -> None:
    run = new_run()
    run.start()
    chunks = call_chunks(0, "call_a", '{"query": "billing"}')
    chunks += call_chunks(1, "call_b", '{"query": "on-call"}')
    events = play_turn(run, [*chunks, chunk({}, finish_reason="tool_calls")])
    calls = [e for e in events if e.type == "tool_call"]
    assert [(c.call_id, c.arguments) for c in calls] == [
        ("call_a", {"query": "billing"}),
        ("call_b", {"query": "on-call"}),
    ]
    assert [m["tool_call_id"] for m in run.messages if m["role"] == "tool"] == ["call_a", "call_b"]


def test_an_answer_turn_ends_the_run_with_a_whole_lifecycle() -> None:
    run = new_run()
    events = run.start()
    events += play_turn(run, call_chunks(0, "call_a", '{"query": "runs billing"}'))
    answer = [chunk({"role": "assistant", "content": ""})]
    answer += [chunk({"content": piece}) for piece in ("Billing is run by ", "Finance [D9].")]
    events += play_turn(run, [*answer, chunk({}, finish_reason="stop")])
    assert run.finished
    assert check_stream(events) == []
    assert events[-1].type == "done"
    # [D9] was not among the documents the tool returned, so it is not cited.
    assert all(e.doc_id != "D9" for e in events if e.type == "citation")


def test_a_model_that_keeps_calling_tools_ends_with_one_error() -> None:
    run = new_run(max_tool_rounds=1)
    events = run.start()
    events += play_turn(run, call_chunks(0, "call_a", '{"query": "billing"}'))
    run.request()
    for c in call_chunks(0, "call_b", '{"query": "billing"}'):
        events += run.feed(c)
    with pytest.raises(RuntimeError, match="still calling tools after 1 rounds") as caught:
        run.end_turn()
    events.append(run.fail(caught.value))
    assert events[-1].type == "error" and events[-1].code == "too_many_tool_rounds"
    assert check_stream(events) == []


def test_has_text_ignores_role_and_tool_chunks() -> None:
    assert not has_text(chunk({"role": "assistant", "content": ""}))
    assert not has_text(call_chunks(0, "call_a", "{}")[0])
    assert has_text(chunk({"content": "Hi"}))


def test_cited_ids_keep_first_mentions_in_order() -> None:
    assert cited_ids("[D3] then [D1, D3] and [ D2 ]") == ["D3", "D1", "D2"]
    assert cited_ids("no brackets") == []


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"model": ""}, "model must be a non-empty str"),
        ({"max_tool_rounds": 0}, "max_tool_rounds must be an int >= 1"),
        ({"max_tool_rounds": True}, "max_tool_rounds must be an int >= 1"),
    ],
    ids=["empty-model", "zero-rounds", "bool-rounds"],
)
def test_start_run_names_the_bad_argument(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        new_run(**overrides)
