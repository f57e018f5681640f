"""The AG-UI dialect: RunAgentInput in, AG-UI events out, checked with the protocol's own parts.

Every frame the encoder writes is parsed back into ``ag_ui.core`` models, and
AG-UI's lifecycle rules are checked here on every run; over a real socket the
stock ``@ag-ui/client`` HttpAgent reads the same stream with its own schema
validation and lifecycle verifier switched on.
"""

from __future__ import annotations

import doctest
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from ag_ui.core import (
    PROTOCOL_VERSION,
    BaseEvent,
    CustomEvent,
    EventType,
    ReasoningMessageContentEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.core import Event as AguiEvent
from ag_ui.encoder import EventEncoder
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter

import labsupport.agui
from labsupport.agent import achat_stream, chat_stream
from labsupport.agui import AguiEncoder
from labsupport.events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from labsupport.mockllm import NO_ANSWER, MockLLM
from tests.support.dialect_bodies import RUN_ID, THREAD_ID, agui_body
from tests.support.secret import AUTH
from tests.support.uvicorn_thread import serve_in_thread

QUESTION = "Who runs billing?"
JS_DIR = Path(__file__).parent / "js"
AGUI_EVENT: TypeAdapter[AguiEvent] = TypeAdapter(AguiEvent)

STARTS = {
    EventType.TEXT_MESSAGE_START: "text message",
    EventType.TOOL_CALL_START: "tool call",
    EventType.REASONING_START: "reasoning",
    EventType.REASONING_MESSAGE_START: "reasoning message",
    EventType.STEP_STARTED: "step",
}
CONTINUATIONS = {
    EventType.TEXT_MESSAGE_CONTENT: "text message",
    EventType.TOOL_CALL_ARGS: "tool call",
    EventType.REASONING_MESSAGE_CONTENT: "reasoning message",
}
ENDS = {
    EventType.TEXT_MESSAGE_END: "text message",
    EventType.TOOL_CALL_END: "tool call",
    EventType.REASONING_END: "reasoning",
    EventType.REASONING_MESSAGE_END: "reasoning message",
    EventType.STEP_FINISHED: "step",
}
TERMINALS = {EventType.RUN_FINISHED, EventType.RUN_ERROR}


def parse_sse(data: bytes) -> list[AguiEvent]:
    """The AG-UI events of an SSE body: one ``data:`` line per frame, comments skipped."""
    text = data.decode()
    assert text == "" or text.endswith("\n\n"), f"an SSE body ends with a blank line: {text!r}"
    events = []
    for frame in text.split("\n\n")[:-1]:
        if frame.startswith(":"):
            continue  # a keep-alive comment
        assert frame.startswith("data: ") and "\n" not in frame, f"not one data line: {frame!r}"
        events.append(AGUI_EVENT.validate_json(frame.removeprefix("data: ")))
    return events


def entity_id(event: BaseEvent) -> str:
    for field in ("tool_call_id", "step_name", "message_id"):
        value = getattr(event, field, None)
        if isinstance(value, str):
            return value
    raise AssertionError(f"{event.type} names no entity")


def lifecycle_problems(events: Sequence[BaseEvent]) -> list[str]:
    """Everything in ``events`` that breaks AG-UI's lifecycle rules, in words; [] if none.

    One run: RUN_STARTED first, exactly one RUN_FINISHED or RUN_ERROR, last;
    every start has its end with the same id, nothing uses an id that is not
    open, no id is opened twice, text deltas are not empty, a tool result
    answers a tool call whose arguments are complete, and nothing is left open.
    """
    if not events:
        return ["no events"]
    problems = []
    if events[0].type != EventType.RUN_STARTED:
        problems.append(f"the first event is {events[0].type.value}, not RUN_STARTED")
    open_ids: dict[str, set[str]] = {kind: set() for kind in STARTS.values()}
    used_ids: dict[str, set[str]] = {kind: set() for kind in STARTS.values()}
    terminals = 0
    for i, event in enumerate(events):
        kind = event.type
        if kind == EventType.RUN_STARTED and i:
            problems.append(f"#{i}: a second RUN_STARTED")
        if kind in TERMINALS:
            terminals += 1
            still_open = sorted(f"{k} {x!r}" for k, ids in open_ids.items() for x in ids)
            if still_open:
                problems.append(f"#{i}: {kind.value} while open: {', '.join(still_open)}")
        elif terminals:
            problems.append(f"#{i}: {kind.value} after the run ended")
        if kind in STARTS:
            entity, key = STARTS[kind], entity_id(event)
            if key in used_ids[entity]:
                problems.append(f"#{i}: {kind.value} reuses the {entity} id {key!r}")
            open_ids[entity].add(key)
            used_ids[entity].add(key)
        elif kind in CONTINUATIONS or kind in ENDS:
            entity, key = (CONTINUATIONS | ENDS)[kind], entity_id(event)
            if key not in open_ids[entity]:
                problems.append(f"#{i}: {kind.value} for {entity} {key!r}, which is not open")
            if kind in ENDS:
                open_ids[entity].discard(key)
        if isinstance(event, TextMessageContentEvent) and not event.delta:
            problems.append(f"#{i}: an empty TEXT_MESSAGE_CONTENT delta")
        if isinstance(event, ToolCallResultEvent) and (
            event.tool_call_id not in used_ids["tool call"]
            or event.tool_call_id in open_ids["tool call"]
        ):
            problems.append(
                f"#{i}: a result for tool call {event.tool_call_id!r}, not a closed call"
            )
    if terminals != 1:
        problems.append(f"{terminals} RUN_FINISHED/RUN_ERROR events; a run has exactly one")
    elif events[-1].type not in TERMINALS:
        problems.append(f"the last event is {events[-1].type.value}, not the run's end")
    return problems


def of_type(events: Sequence[BaseEvent], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def text_of(events: Sequence[BaseEvent]) -> str:
    return "".join(e.delta for e in of_type(events, TextMessageContentEvent))


def answer_of(lab: Sequence[Event]) -> str:
    return "".join(e.text for e in lab if isinstance(e, TokenEvent))


def encode_all(lab: Sequence[Event]) -> list[bytes]:
    encoder = AguiEncoder(thread_id=THREAD_ID, run_id=RUN_ID)
    return [encoder.encode(event) for event in lab]


async def run_through_encoder(
    question: str, llm: MockLLM, run_id: str = "run_test"
) -> tuple[list[Event], list[bytes]]:
    """Run the lab agent, encoding each event as it comes: the lab events and each call's bytes."""
    encoder = AguiEncoder(thread_id=THREAD_ID, run_id=RUN_ID)
    lab: list[Event] = []
    chunks: list[bytes] = []
    async for event in achat_stream(question, llm=llm, run_id=run_id):
        lab.append(event)
        chunks.append(encoder.encode(event))
    return lab, chunks


def lab_run(question: str = QUESTION, **knobs: Any) -> list[Event]:
    return list(chat_stream(question, llm=MockLLM.instant(**knobs), run_id="run_test"))


def cut_after_tokens(lab: list[Event], tokens: int) -> list[Event]:
    """The run up to and including its ``tokens``-th token: a stream the server has to end."""
    seen = 0
    for i, event in enumerate(lab):
        seen += isinstance(event, TokenEvent)
        if seen == tokens:
            return lab[: i + 1]
    raise AssertionError(f"the run has fewer than {tokens} tokens")


def ended_by(lab: list[Event], code: str, message: str) -> list[Event]:
    """``lab`` ended as the server ends a run it stops: one more event, an error."""
    last = lab[-1]
    return [*lab, ErrorEvent(run_id=last.run_id, seq=last.seq + 1, code=code, message=message)]


# -- the lifecycle checker itself catches what it should -----------------------------------


def _started() -> RunStartedEvent:
    return RunStartedEvent(thread_id=THREAD_ID, run_id=RUN_ID)


def _finished() -> RunFinishedEvent:
    return RunFinishedEvent(thread_id=THREAD_ID, run_id=RUN_ID)


BROKEN_RUNS: list[tuple[str, list[BaseEvent], str]] = [
    ("nothing", [], "no events"),
    ("no start", [_finished()], "not RUN_STARTED"),
    ("no end", [_started(), StepStartedEvent(step_name="s")], "0 RUN_FINISHED/RUN_ERROR"),
    ("two ends", [_started(), _finished(), RunErrorEvent(message="x")], "a run has exactly one"),
    (
        "event after the end",
        [_started(), _finished(), StepStartedEvent(step_name="s")],
        "STEP_STARTED after the run ended",
    ),
    (
        "message left open",
        [_started(), TextMessageStartEvent(message_id="m"), _finished()],
        "RUN_FINISHED while open: text message 'm'",
    ),
    (
        "content after end",
        [
            _started(),
            TextMessageStartEvent(message_id="m"),
            TextMessageEndEvent(message_id="m"),
            TextMessageContentEvent(message_id="m", delta="late"),
            _finished(),
        ],
        "TEXT_MESSAGE_CONTENT for text message 'm', which is not open",
    ),
    (
        "empty delta",
        [
            _started(),
            TextMessageStartEvent(message_id="m"),
            TextMessageContentEvent(message_id="m", delta=""),
            TextMessageEndEvent(message_id="m"),
            _finished(),
        ],
        "empty TEXT_MESSAGE_CONTENT delta",
    ),
    (
        "wrong tool call id",
        [
            _started(),
            ToolCallStartEvent(tool_call_id="a", tool_call_name="t"),
            ToolCallEndEvent(tool_call_id="b"),
            _finished(),
        ],
        "TOOL_CALL_END for tool call 'b', which is not open",
    ),
    (
        "result for no call",
        [
            _started(),
            ToolCallResultEvent(message_id="r", tool_call_id="a", content="x"),
            _finished(),
        ],
        "a result for tool call 'a'",
    ),
    (
        "step reopened",
        [
            _started(),
            StepStartedEvent(step_name="s"),
            StepFinishedEvent(step_name="s"),
            StepStartedEvent(step_name="s"),
            StepFinishedEvent(step_name="s"),
            _finished(),
        ],
        "reuses the step id 's'",
    ),
]


@pytest.mark.parametrize(
    ("events", "problem"), [(e, p) for _, e, p in BROKEN_RUNS], ids=[n for n, _, _ in BROKEN_RUNS]
)
def test_the_lifecycle_checker_names_each_broken_rule(
    events: list[BaseEvent], problem: str
) -> None:
    found = lifecycle_problems(events)
    assert any(problem in p for p in found), found


# -- a run, encoded in process -------------------------------------------------------------


@pytest.mark.parametrize("question", [QUESTION, "Who is on call?", "What is the weather on Mars?"])
async def test_a_run_becomes_one_valid_ag_ui_run(question: str) -> None:
    lab, chunks = await run_through_encoder(question, MockLLM.instant())
    events = parse_sse(b"".join(chunks))
    assert lifecycle_problems(events) == []
    started = events[0]
    assert isinstance(started, RunStartedEvent)
    assert (started.thread_id, started.run_id) == (THREAD_ID, RUN_ID)
    assert started.protocol_version == PROTOCOL_VERSION
    finished = events[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert (finished.thread_id, finished.run_id, finished.outcome) == (THREAD_ID, RUN_ID, None)
    answer = answer_of(lab)
    assert answer and text_of(events) == answer
    assert len(of_type(events, TextMessageStartEvent)) == 1
    assert finished.result == {
        "answer": answer,
        "citations": [{"doc_id": e.doc_id, "title": e.title} for e in lab if e.type == "citation"],
    }


async def test_the_no_answer_run_cites_nothing() -> None:
    lab, chunks = await run_through_encoder("What is the weather on Mars?", MockLLM.instant())
    events = parse_sse(b"".join(chunks))
    assert text_of(events) == NO_ANSWER == answer_of(lab)
    assert [e for e in of_type(events, CustomEvent) if e.name == "citation"] == []


async def test_each_lab_event_maps_to_its_ag_ui_events() -> None:
    lab, chunks = await run_through_encoder(QUESTION, MockLLM.instant())
    events = parse_sse(b"".join(chunks))

    statuses = [e.message for e in lab if isinstance(e, StatusEvent)]
    assert [e.step_name for e in of_type(events, StepStartedEvent)] == statuses
    assert [e.step_name for e in of_type(events, StepFinishedEvent)] == statuses

    thoughts = [e.text for e in lab if isinstance(e, ThoughtEvent)]
    assert [e.delta for e in of_type(events, ReasoningMessageContentEvent)] == thoughts

    (call,) = [e for e in lab if isinstance(e, ToolCallEvent)]
    (start,) = of_type(events, ToolCallStartEvent)
    assert (start.tool_call_id, start.tool_call_name) == (call.call_id, call.name)
    args = "".join(e.delta for e in of_type(events, ToolCallArgsEvent))
    assert json.loads(args) == call.arguments
    assert [e.tool_call_id for e in of_type(events, ToolCallEndEvent)] == [call.call_id]

    (result,) = [e for e in lab if isinstance(e, ToolResultEvent)]
    (agui_result,) = of_type(events, ToolCallResultEvent)
    assert agui_result.tool_call_id == result.call_id
    assert isinstance(agui_result.content, str)
    assert json.loads(agui_result.content) == {
        "sources": [s.model_dump(mode="json") for s in result.sources]
    }

    custom = of_type(events, CustomEvent)
    citations = [e for e in lab if isinstance(e, CitationEvent)]
    assert citations, "the billing question cites its sources"
    assert [e.value for e in custom if e.name == "citation"] == [
        {"doc_id": e.doc_id, "title": e.title} for e in citations
    ]
    (cost,) = [e for e in lab if isinstance(e, CostEvent)]
    assert [e.value for e in custom if e.name == "cost"] == [
        {
            "prompt_tokens": cost.prompt_tokens,
            "completion_tokens": cost.completion_tokens,
            "usd": cost.usd,
        }
    ]
    finished = events[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert finished.usage == [
        TokenUsage(
            input_tokens=cost.prompt_tokens,
            output_tokens=cost.completion_tokens,
            total_tokens=cost.total_tokens,
        )
    ]


async def test_every_token_goes_out_in_its_own_encode_call() -> None:
    lab, chunks = await run_through_encoder(QUESTION, MockLLM.instant())
    assert parse_sse(chunks[0])[0].type == EventType.RUN_STARTED
    for event, chunk in zip(lab, chunks, strict=True):
        if isinstance(event, TokenEvent):
            deltas = [e.delta for e in parse_sse(chunk) if isinstance(e, TextMessageContentEvent)]
            assert deltas == [event.text]


def test_the_answer_message_closes_before_the_cost_and_the_step_before_the_end() -> None:
    events = parse_sse(b"".join(encode_all(lab_run())))
    kinds = [e.type for e in events]
    last_content = max(i for i, k in enumerate(kinds) if k == EventType.TEXT_MESSAGE_CONTENT)
    assert kinds[last_content + 1 :] == [
        EventType.TEXT_MESSAGE_END,
        EventType.CUSTOM,  # cost
        EventType.STEP_FINISHED,
        EventType.RUN_FINISHED,
    ]


def test_the_module_docstring_example_is_true() -> None:
    result = doctest.testmod(labsupport.agui, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# -- runs that end badly --------------------------------------------------------------------


async def test_a_model_failure_mid_answer_closes_the_message_then_reports_run_error() -> None:
    lab, chunks = await run_through_encoder(QUESTION, MockLLM.instant(fail_after_tokens=3))
    error = lab[-1]
    assert isinstance(error, ErrorEvent) and error.code == "model_error"
    events = parse_sse(b"".join(chunks))
    assert lifecycle_problems(events) == []
    assert text_of(events) == answer_of(lab) != ""
    assert len(of_type(events, TextMessageContentEvent)) == 3
    assert [e.type for e in events[-3:]] == [
        EventType.TEXT_MESSAGE_END,
        EventType.STEP_FINISHED,
        EventType.RUN_ERROR,
    ]
    run_error = events[-1]
    assert isinstance(run_error, RunErrorEvent)
    assert (run_error.code, run_error.message) == ("model_error", error.message)


async def test_a_model_failure_before_any_token_opens_no_message() -> None:
    lab, chunks = await run_through_encoder(QUESTION, MockLLM.instant(fail_after_tokens=0))
    assert answer_of(lab) == ""
    events = parse_sse(b"".join(chunks))
    assert lifecycle_problems(events) == []
    assert of_type(events, TextMessageStartEvent) == []
    assert isinstance(events[-1], RunErrorEvent) and events[-1].code == "model_error"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("server_shutdown", "the server is shutting down"),
        ("internal_error", "RuntimeError: the agent broke"),
    ],
)
def test_a_run_the_server_ends_mid_answer_closes_everything_then_reports_run_error(
    code: str, message: str
) -> None:
    lab = ended_by(cut_after_tokens(lab_run(), 5), code, message)
    events = parse_sse(b"".join(encode_all(lab)))
    assert lifecycle_problems(events) == []
    assert text_of(events) == answer_of(lab)
    assert [e.type for e in events[-3:]] == [
        EventType.TEXT_MESSAGE_END,
        EventType.STEP_FINISHED,
        EventType.RUN_ERROR,
    ]
    run_error = events[-1]
    assert isinstance(run_error, RunErrorEvent)
    assert (run_error.code, run_error.message) == (code, message)


def test_a_cancelled_run_finishes_with_the_cancelled_outcome() -> None:
    lab = ended_by(cut_after_tokens(lab_run(), 5), "cancelled", "the user stopped the run")
    events = parse_sse(b"".join(encode_all(lab)))
    assert lifecycle_problems(events) == []
    finished = events[-1]
    assert isinstance(finished, RunFinishedEvent)
    assert finished.outcome is not None and finished.outcome.type == "cancelled"
    assert finished.result is None
    assert events[-2].type == EventType.STEP_FINISHED
    assert events[-3].type == EventType.TEXT_MESSAGE_END


def test_an_agent_that_fails_at_once_still_gives_a_started_and_an_errored_run() -> None:
    crash = ErrorEvent(run_id="run_x", seq=0, code="internal_error", message="TypeError: boom")
    events = parse_sse(AguiEncoder(thread_id=THREAD_ID, run_id=RUN_ID).encode(crash))
    assert lifecycle_problems(events) == []
    assert [e.type for e in events] == [EventType.RUN_STARTED, EventType.RUN_ERROR]


def test_nothing_may_follow_the_end_of_a_run() -> None:
    encoder = AguiEncoder(thread_id=THREAD_ID, run_id=RUN_ID)
    encoder.encode(DoneEvent(run_id="run_x", seq=0))
    with pytest.raises(RuntimeError, match="'status' event after its done or error"):
        encoder.encode(StatusEvent(run_id="run_x", seq=1, message="thinking"))


def test_a_thought_between_tokens_splits_the_answer_into_two_messages() -> None:
    r = "run_x"
    lab: list[Event] = [
        TokenEvent(run_id=r, seq=0, text=""),
        TokenEvent(run_id=r, seq=1, text="Hello"),
        ThoughtEvent(run_id=r, seq=2, text="and now the rest"),
        TokenEvent(run_id=r, seq=3, text=" world"),
        DoneEvent(run_id=r, seq=4),
    ]
    events = parse_sse(b"".join(encode_all(lab)))
    assert lifecycle_problems(events) == []
    assert [e.message_id for e in of_type(events, TextMessageStartEvent)] == ["run_x:1", "run_x:3"]
    assert text_of(events) == "Hello world"


# -- over a real socket ---------------------------------------------------------------------


@pytest.mark.slow
def test_post_ag_ui_streams_one_valid_run(lab_url: str) -> None:
    with httpx.Client(base_url=lab_url, timeout=30, headers=AUTH) as client:
        response = client.post("/ag-ui", json=agui_body(QUESTION), headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    events = parse_sse(response.content)
    assert lifecycle_problems(events) == []
    assert text_of(events) == answer_of(lab_run())


# -- the stock AG-UI client, in node --------------------------------------------------------


def require_node() -> str:
    """The node binary, or skip (fail under CI) when it or the JS clients are missing."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not installed (the AG-UI client test runs @ag-ui/client in node 20+)"
    elif not (JS_DIR / "node_modules" / "@ag-ui" / "client").is_dir():
        reason = "tests/js/node_modules is missing: run `npm ci --prefix tests/js`"
    if reason is not None or node is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the stock AG-UI client must run in CI: {reason}")
        pytest.skip(str(reason))
    return node


def run_http_agent(url: str, *questions: str) -> dict[str, Any]:
    """What ``tests/js/agui_client.mjs`` saw running ``questions`` through HttpAgent."""
    node = require_node()
    done = subprocess.run(
        [node, str(JS_DIR / "agui_client.mjs"), url, *questions],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output: dict[str, Any] = json.loads(done.stdout)
    return output


@pytest.mark.slow
def test_the_stock_http_agent_runs_a_conversation_and_agrees_with_the_lab(lab_url: str) -> None:
    questions = (QUESTION, "Who is on call?")
    seen = run_http_agent(f"{lab_url}/ag-ui", *questions)
    assert seen["warnings"] == []
    assert [run.get("error") for run in seen["runs"]] == [None, None]
    for question, run in zip(questions, seen["runs"], strict=True):
        events = [AGUI_EVENT.validate_python(e) for e in run["events"]]
        assert lifecycle_problems(events) == []
        answer = answer_of(lab_run(question))
        assert text_of(events) == answer
        assert run["result"]["answer"] == answer
        roles = [m["role"] for m in run["newMessages"]]
        assert roles == ["reasoning", "assistant", "tool", "assistant"]
        assert run["newMessages"][-1]["content"] == answer
        call = run["newMessages"][1]["toolCalls"][0]
        assert run["newMessages"][2]["toolCallId"] == call["id"]
    # The second run was sent the whole first exchange back and answered the newest question.
    conversation = [(m["role"], m.get("content")) for m in seen["messages"]]
    assert conversation[0] == ("user", QUESTION)
    assert conversation[5] == ("user", "Who is on call?")
    assert conversation[-1] == ("assistant", answer_of(lab_run("Who is on call?")))


@pytest.mark.slow
def test_the_stock_http_agent_reads_a_failed_run_as_run_error(failing_lab_url: str) -> None:
    seen = run_http_agent(f"{failing_lab_url}/ag-ui", QUESTION)
    assert seen["warnings"] == []
    (run,) = seen["runs"]
    events = [AGUI_EVENT.validate_python(e) for e in run["events"]]
    assert lifecycle_problems(events) == []
    assert isinstance(events[-1], RunErrorEvent) and events[-1].code == "model_error"
    partial = answer_of(lab_run(fail_after_tokens=3))
    assert text_of(events) == partial
    # A RUN_ERROR is a run that ended, not a broken stream: runAgent resolves, with no result,
    # and the conversation keeps the part of the answer that arrived.
    assert "error" not in run and "result" not in run
    assert run["newMessages"][-1] == {
        "id": of_type(events, TextMessageStartEvent)[0].message_id,
        "role": "assistant",
        "content": partial,
    }


async def _broken_stream() -> AsyncIterator[str]:
    wire = EventEncoder()
    yield wire.encode(RunStartedEvent(thread_id=THREAD_ID, run_id=RUN_ID))
    yield wire.encode(TextMessageStartEvent(message_id="m1"))
    yield wire.encode(RunFinishedEvent(thread_id=THREAD_ID, run_id=RUN_ID))


@pytest.mark.slow
def test_the_stock_http_agent_really_verifies_the_lifecycle() -> None:
    """Without this, the agreeing runs above could pass against a client that checks nothing."""
    broken = FastAPI()

    @broken.post("/ag-ui")
    async def ag_ui() -> StreamingResponse:
        return StreamingResponse(_broken_stream(), media_type="text/event-stream")

    with serve_in_thread(broken) as base_url:
        seen = run_http_agent(f"{base_url}/ag-ui", QUESTION)
    (run,) = seen["runs"]
    assert "text messages are still active: m1" in run["error"]
