"""The event vocabulary: a closed set, exact JSON round trips, precise rejections."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from labsupport import EVENT_TYPES, chat_stream, event_json_schema, from_dict, from_json
from labsupport.events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Source,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)

ONE_OF_EACH = [
    StatusEvent(run_id="r", seq=0, message="thinking"),
    ThoughtEvent(run_id="r", seq=1, text="search first"),
    ToolCallEvent(
        run_id="r", seq=2, call_id="c1", name="search_kb", arguments={"query": "q", "k": 2}
    ),
    ToolResultEvent(
        run_id="r",
        seq=3,
        call_id="c1",
        name="search_kb",
        sources=[Source(doc_id="D1", title="T", score=1.5)],
    ),
    CitationEvent(run_id="r", seq=4, doc_id="D1", title="T"),
    TokenEvent(run_id="r", seq=5, text=' "quoted"\nline\r\n☃'),
    CostEvent(run_id="r", seq=6, prompt_tokens=10, completion_tokens=3, usd=0.0000123),
    DoneEvent(run_id="r", seq=7),
    ErrorEvent(run_id="r", seq=8, code="model_error", message="boom"),
]


def test_vocabulary_is_the_nine_documented_types() -> None:
    assert EVENT_TYPES == (
        "status",
        "thought",
        "tool_call",
        "tool_result",
        "citation",
        "token",
        "cost",
        "done",
        "error",
    )
    assert [e.type for e in ONE_OF_EACH] == list(EVENT_TYPES)


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: e.type)
def test_json_round_trip_is_exact(event: object) -> None:
    wire = event.to_json()  # type: ignore[attr-defined]
    assert json.loads(wire)["type"] == event.type  # type: ignore[attr-defined]
    assert next(iter(json.loads(wire))) == "type", "type is serialized first"
    assert from_json(wire) == event
    assert from_dict(event.to_dict()) == event  # type: ignore[attr-defined]


def test_events_are_immutable() -> None:
    event = TokenEvent(run_id="r", seq=0, text="x")
    with pytest.raises(ValidationError):
        event.text = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"type": "token", "run_id": "r", "seq": -1, "text": "x"}', "seq"),
        ('{"type": "token", "run_id": "", "seq": 0, "text": "x"}', "run_id"),
        ('{"type": "token", "run_id": "r", "seq": 0}', "text"),
        ('{"type": "token", "run_id": "r", "seq": 0, "text": "x", "extra": 1}', "extra"),
        (
            '{"type": "cost", "run_id": "r", "seq": 0, "prompt_tokens": -5, "completion_tokens": 0, "usd": 0}',
            "prompt_tokens",
        ),
    ],
    ids=["negative-seq", "empty-run-id", "missing-text", "unknown-field", "negative-tokens"],
)
def test_malformed_event_is_rejected_naming_the_field(payload: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        from_json(payload)
    assert any(field in map(str, err["loc"]) for err in info.value.errors())


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        from_json('{"type": "banner", "run_id": "r", "seq": 0}')


def test_json_schema_is_keyed_by_type_and_lists_every_event() -> None:
    schema = event_json_schema()
    assert schema["title"] == "LabEvent"
    assert sorted(schema["discriminator"]["mapping"]) == sorted(EVENT_TYPES)
    token = schema["$defs"]["TokenEvent"]
    assert set(token["required"]) >= {"run_id", "seq", "text"}


def test_every_event_of_a_run_carries_the_run_id_and_consecutive_seq(llm: object) -> None:
    events = list(chat_stream("Who runs billing?", llm=llm, run_id="run_x"))  # type: ignore[arg-type]
    assert {e.run_id for e in events} == {"run_x"}
    assert [e.seq for e in events] == list(range(len(events)))


def test_cost_total_adds_prompt_and_completion() -> None:
    assert (
        CostEvent(run_id="r", seq=0, prompt_tokens=10, completion_tokens=3, usd=0).total_tokens
        == 13
    )
