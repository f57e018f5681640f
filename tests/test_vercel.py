"""The AI SDK UI message stream: request checks, chunk by chunk encoding, and the SDK's own client.

Three layers. In process, real agent runs go through ``VercelEncoder`` and the
bytes are parsed and checked part by part against the protocol's rules. Over a
real uvicorn, bad bodies get a 422 that says what is wrong. And the stock
``ai`` package in node (tests/js) reads the stream as ``useChat`` does:
``uiMessageChunkSchema`` validates every chunk, ``readUIMessageStream``
assembles the message, and the chat engine behind ``useChat``
(``AbstractChat`` with ``DefaultChatTransport``) holds a conversation.
"""

from __future__ import annotations

import doctest
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

import labsupport
from labsupport import MockLLM, achat_stream, chat_stream, vercel
from labsupport.events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    Source,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from labsupport.sse import DONE
from labsupport.vercel import VercelEncoder
from tests.support.dialect_bodies import chat_body, user
from tests.support.secret import AUTH

QUESTION = "Who runs billing?"
SECOND_QUESTION = "Who leads the Platform team?"
JS_DIR = Path(__file__).parent / "js"
CLIENT = JS_DIR / "vercel_client.mjs"


# -- helpers ----------------------------------------------------------------------


def lab_run(question: str, **knobs: Any) -> list[Event]:
    """The lab's own events for ``question``: what every dialect must carry."""
    return list(chat_stream(question, llm=MockLLM.instant(**knobs)))


def lab_answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenEvent))


def split_frames(raw: bytes) -> list[str]:
    """The ``data:`` payloads of a UI message stream, in order; fails on anything else."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n"), "the stream must end with a complete SSE block"
    payloads = []
    for block in text[:-2].split("\n\n"):
        assert block.startswith("data: ") and "\n" not in block, f"not one data line: {block!r}"
        payloads.append(block.removeprefix("data: "))
    return payloads


def parse_chunks(raw: bytes) -> list[dict[str, Any]]:
    """Every chunk as JSON; checks that ``[DONE]`` comes once, last."""
    payloads = split_frames(raw)
    assert payloads[-1] == "[DONE]"
    assert payloads.count("[DONE]") == 1
    return [json.loads(p) for p in payloads[:-1]]


@dataclass
class Reading:
    """What a checked stream said: the answer, its parts, and how it ended."""

    message_id: str = ""
    text_blocks: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[tuple[str, str]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    ending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answer(self) -> str:
        return "".join(self.text_blocks)


def read_stream(chunks: list[dict[str, Any]]) -> Reading:
    """Check the protocol's rules chunk by chunk, and collect what the stream carried.

    ``start`` first and only once; every ``text-delta``/``text-end`` (and reasoning)
    belongs to an open block with the same id; every block opened is closed once;
    tool chunks follow start, input, output for the same ``toolCallId``; the stream
    ends with ``finish``, or ``error`` then ``finish``, or ``abort``, and nothing after.
    """
    out = Reading()
    assert chunks[0]["type"] == "start"
    assert [c["type"] for c in chunks].count("start") == 1
    out.message_id = chunks[0]["messageId"]
    out.metadata.update(chunks[0].get("messageMetadata", {}))
    open_blocks: dict[str, tuple[str, int]] = {}  # id -> (kind, index into its list)
    closed: set[str] = set()
    end_at = next(i for i, c in enumerate(chunks) if c["type"] in ("finish", "error", "abort"))
    for chunk in chunks[1:end_at]:
        kind = chunk["type"]
        if kind in ("text-start", "reasoning-start"):
            assert chunk["id"] not in open_blocks and chunk["id"] not in closed, chunk
            target = out.text_blocks if kind == "text-start" else out.reasoning
            open_blocks[chunk["id"]] = (kind.partition("-")[0], len(target))
            target.append("")
        elif kind in ("text-delta", "reasoning-delta"):
            block_kind, index = open_blocks[chunk["id"]]
            assert block_kind == kind.partition("-")[0], chunk
            target = out.text_blocks if block_kind == "text" else out.reasoning
            target[index] += chunk["delta"]
        elif kind in ("text-end", "reasoning-end"):
            block_kind, _ = open_blocks.pop(chunk["id"])
            assert block_kind == kind.partition("-")[0], chunk
            closed.add(chunk["id"])
        elif kind == "tool-input-start":
            assert chunk["toolCallId"] not in out.tools
            out.tools[chunk["toolCallId"]] = {"name": chunk["toolName"], "state": "started"}
        elif kind == "tool-input-available":
            tool = out.tools[chunk["toolCallId"]]
            assert (tool["state"], tool["name"]) == ("started", chunk["toolName"])
            tool.update(state="input", input=chunk["input"])
        elif kind in ("tool-output-available", "tool-output-error"):
            tool = out.tools[chunk["toolCallId"]]
            assert tool["state"] == "input", f"{kind} before the tool's input: {chunk}"
            if kind == "tool-output-available":
                tool.update(state="output", output=chunk["output"])
            else:
                tool.update(state="error", error=chunk["errorText"])
        elif kind == "source-document":
            assert chunk["mediaType"] == "text/plain"
            out.sources.append((chunk["sourceId"], chunk["title"]))
        elif kind == "data-status":
            assert chunk["transient"] is True
            out.statuses.append(chunk["data"]["message"])
        elif kind == "message-metadata":
            out.metadata.update(chunk["messageMetadata"])
        else:
            raise AssertionError(f"unexpected chunk before the end: {chunk}")
    assert not open_blocks, f"blocks never closed: {sorted(open_blocks)}"
    out.ending = chunks[end_at:]
    assert [c["type"] for c in out.ending] in (["finish"], ["error", "finish"], ["abort"])
    return out


async def encode_run(question: str, llm: MockLLM) -> tuple[list[Event], bytes]:
    """A real agent run through a fresh encoder: its events and the bytes sent."""
    encoder = VercelEncoder()
    events: list[Event] = []
    raw = b""
    async for event in achat_stream(question, llm=llm, run_id="run_0123456789ab"):
        events.append(event)
        raw += encoder.encode(event)
    return events, raw


def of_type(events: list[Event], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


# -- the encoder, in process --------------------------------------------------------


async def test_a_whole_run_maps_every_event_to_its_chunks(llm: MockLLM) -> None:
    events, raw = await encode_run(QUESTION, llm)
    reading = read_stream(parse_chunks(raw))

    assert reading.message_id == "msg_0123456789ab"
    assert reading.answer == lab_answer(events) and reading.answer.startswith("The Payments team")
    assert len(reading.text_blocks) == 1, "the tokens of one answer form one text part"
    assert reading.statuses == [e.message for e in of_type(events, StatusEvent)]
    assert reading.reasoning == [e.text for e in of_type(events, ThoughtEvent)]
    assert reading.sources == [(e.doc_id, e.title) for e in of_type(events, CitationEvent)]
    (call,) = of_type(events, ToolCallEvent)
    (result,) = of_type(events, ToolResultEvent)
    assert reading.tools == {
        call.call_id: {
            "name": "search_kb",
            "state": "output",
            "input": call.arguments,
            "output": {"sources": [s.model_dump(mode="json") for s in result.sources]},
        }
    }
    (cost,) = of_type(events, CostEvent)
    assert reading.metadata == {
        "runId": "run_0123456789ab",
        "cost": {
            "inputTokens": cost.prompt_tokens,
            "outputTokens": cost.completion_tokens,
            "totalTokens": cost.total_tokens,
            "usd": cost.usd,
        },
    }
    assert reading.ending == [{"type": "finish", "finishReason": "stop"}]


@pytest.mark.parametrize("fail_after", [0, 3], ids=["before-any-token", "after-3-tokens"])
async def test_a_model_failure_closes_the_text_then_sends_error_and_finish(
    fail_after: int,
) -> None:
    events, raw = await encode_run(QUESTION, MockLLM.instant(fail_after_tokens=fail_after))
    chunks = parse_chunks(raw)
    reading = read_stream(chunks)

    (error,) = of_type(events, ErrorEvent)
    assert error.code == "model_error"
    assert reading.answer == lab_answer(events)
    assert len(lab_answer(events).split()) == fail_after
    assert len(reading.text_blocks) == (1 if fail_after else 0)
    assert reading.ending == [
        {"type": "error", "errorText": f"model_error: {error.message}"},
        {"type": "finish", "finishReason": "error"},
    ]
    if fail_after:
        text_id = next(c["id"] for c in chunks if c["type"] == "text-start")
        assert chunks[-3] == {"type": "text-end", "id": text_id}, "closed before the error"


def started(*events: Event) -> tuple[VercelEncoder, list[bytes]]:
    """An encoder fed ``events``; returns it and the bytes of each call."""
    encoder = VercelEncoder()
    return encoder, [encoder.encode(e) for e in events]


CALL = ToolCallEvent(
    run_id="run_x", seq=0, call_id="call_1", name="search_kb", arguments={"query": "q"}
)


def test_a_cancel_while_a_tool_runs_fails_the_tool_and_aborts_without_finish() -> None:
    cancel = ErrorEvent(run_id="run_x", seq=1, code="cancelled", message="the user stopped it")
    _, parts = started(CALL, cancel)
    assert parts[1] == (
        b'data: {"type":"tool-output-error","toolCallId":"call_1","errorText":"cancelled"}\n\n'
        b'data: {"type":"abort","reason":"the user stopped it"}\n\n'
        b"data: [DONE]\n\n"
    )
    reading = read_stream(parse_chunks(b"".join(parts)))
    assert reading.tools["call_1"]["state"] == "error"


def test_a_shutdown_while_a_tool_runs_fails_the_tool_and_the_run() -> None:
    shutdown = ErrorEvent(
        run_id="run_x", seq=1, code="server_shutdown", message="the server is shutting down"
    )
    _, parts = started(CALL, shutdown)
    chunks = parse_chunks(b"".join(parts))
    reading = read_stream(chunks)
    error_text = "server_shutdown: the server is shutting down"
    assert reading.tools["call_1"] == {
        "name": "search_kb",
        "state": "error",
        "input": {"query": "q"},
        "error": error_text,
    }
    assert reading.ending[0] == {"type": "error", "errorText": error_text}


def test_a_part_between_tokens_splits_the_answer_into_two_text_blocks() -> None:
    _, parts = started(
        TokenEvent(run_id="run_x", seq=0, text="One."),
        CitationEvent(run_id="run_x", seq=1, doc_id="D1", title="Payments team"),
        TokenEvent(run_id="run_x", seq=2, text=" Two."),
        DoneEvent(run_id="run_x", seq=3),
    )
    chunks = parse_chunks(b"".join(parts))
    reading = read_stream(chunks)
    assert reading.text_blocks == ["One.", " Two."]
    assert [c["type"] for c in chunks[1:4]] == ["text-start", "text-delta", "text-end"]
    assert chunks[4]["type"] == "source-document"


def test_only_the_first_call_sends_start_and_only_the_last_sends_done() -> None:
    _, parts = started(
        StatusEvent(run_id="run_x", seq=0, message="thinking"),
        StatusEvent(run_id="run_x", seq=1, message="writing"),
        DoneEvent(run_id="run_x", seq=2),
    )
    assert parts[0].startswith(b'data: {"type":"start","messageId":"msg_x"')
    assert b'"start"' not in parts[1] + parts[2]
    assert parts[2].endswith(DONE) and DONE not in parts[0] + parts[1]


RUN = {"run_id": "run_x"}
GOLDEN: list[tuple[Event, bytes]] = [
    (
        StatusEvent(**RUN, seq=1, message="thinking"),
        b'data: {"type":"data-status","data":{"message":"thinking"},"transient":true}\n\n',
    ),
    (
        ThoughtEvent(**RUN, seq=1, text="Search first."),
        b'data: {"type":"reasoning-start","id":"reasoning_1"}\n\n'
        b'data: {"type":"reasoning-delta","id":"reasoning_1","delta":"Search first."}\n\n'
        b'data: {"type":"reasoning-end","id":"reasoning_1"}\n\n',
    ),
    (
        ToolCallEvent(**RUN, seq=1, call_id="call_1", name="search_kb", arguments={"k": 2}),
        b'data: {"type":"tool-input-start","toolCallId":"call_1","toolName":"search_kb"}\n\n'
        b'data: {"type":"tool-input-available","toolCallId":"call_1","toolName":"search_kb",'
        b'"input":{"k":2}}\n\n',
    ),
    (
        CitationEvent(**RUN, seq=1, doc_id="D1", title="Payments team"),
        b'data: {"type":"source-document","sourceId":"D1","mediaType":"text/plain",'
        b'"title":"Payments team"}\n\n',
    ),
    (
        TokenEvent(**RUN, seq=1, text="line one\nline two \u00e9"),
        b'data: {"type":"text-start","id":"text_1"}\n\n'
        b'data: {"type":"text-delta","id":"text_1","delta":"line one\\nline two \xc3\xa9"}\n\n',
    ),
    (
        CostEvent(**RUN, seq=1, prompt_tokens=10, completion_tokens=5, usd=0.25),
        b'data: {"type":"message-metadata","messageMetadata":{"cost":{"inputTokens":10,'
        b'"outputTokens":5,"totalTokens":15,"usd":0.25}}}\n\n',
    ),
    (DoneEvent(**RUN, seq=1), b'data: {"type":"finish","finishReason":"stop"}\n\ndata: [DONE]\n\n'),
    (
        ErrorEvent(**RUN, seq=1, code="model_error", message="boom"),
        b'data: {"type":"error","errorText":"model_error: boom"}\n\n'
        b'data: {"type":"finish","finishReason":"error"}\n\ndata: [DONE]\n\n',
    ),
]


@pytest.mark.parametrize(("event", "expected"), GOLDEN, ids=[e.type for e, _ in GOLDEN])
def test_each_event_has_these_exact_bytes(event: Event, expected: bytes) -> None:
    encoder, _ = started(StatusEvent(**RUN, seq=0, message="start"))
    assert encoder.encode(event) == expected


def test_a_tool_result_after_its_call_carries_the_sources() -> None:
    result = ToolResultEvent(
        **RUN, seq=1, call_id="call_1", name="search_kb", sources=[Source(doc_id="D1", title="T")]
    )
    encoder, _ = started(CALL)
    assert encoder.encode(result) == (
        b'data: {"type":"tool-output-available","toolCallId":"call_1",'
        b'"output":{"sources":[{"doc_id":"D1","title":"T","score":0.0}]}}\n\n'
    )


def test_encoding_refuses_what_would_break_the_stream() -> None:
    encoder, _ = started(DoneEvent(**RUN, seq=0))
    with pytest.raises(ValueError, match="already ended; got a 'token' event"):
        encoder.encode(TokenEvent(**RUN, seq=1, text="late"))
    orphan = ToolResultEvent(**RUN, seq=0, call_id="call_9", name="search_kb")
    with pytest.raises(ValueError, match="'call_9', which no earlier tool_call opened"):
        VercelEncoder().encode(orphan)


def test_the_module_docstring_example_runs() -> None:
    result = doctest.testmod(vercel, globs={**vars(labsupport), **vars(vercel)})
    assert (result.attempted, result.failed) == (4, 0)


def test_the_response_announces_the_protocol() -> None:
    encoder = VercelEncoder()
    assert encoder.media_type == "text/event-stream"
    assert encoder.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert encoder.headers["X-Accel-Buffering"] == "no"


# -- over a real socket ------------------------------------------------------------------


def test_the_stream_over_http_is_the_same_run_part_by_part(lab_url: str) -> None:
    with (
        httpx.Client(timeout=10, headers=AUTH) as client,
        connect_sse(
            client, "POST", f"{lab_url}/api/chat", json=chat_body(user(QUESTION)), headers=AUTH
        ) as source,
    ):
        assert source.response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        assert source.response.headers["content-type"].startswith("text/event-stream")
        payloads = [sse.data for sse in source.iter_sse()]
    assert payloads[-1] == "[DONE]"
    reading = read_stream([json.loads(p) for p in payloads[:-1]])
    events = lab_run(QUESTION)
    assert reading.answer == lab_answer(events)
    assert reading.sources == [(e.doc_id, e.title) for e in of_type(events, CitationEvent)]
    assert reading.ending == [{"type": "finish", "finishReason": "stop"}]


# -- the AI SDK's own client, in node --------------------------------------------------------


def run_client(mode: str, url: str = "", *questions: str, stdin: bytes = b"") -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the AI SDK client tests need Node.js 20+")
    if not (JS_DIR / "node_modules" / "ai").is_dir():
        pytest.skip("tests/js/node_modules has no 'ai'; run `npm ci` in tests/js")
    args = [f"{url}/api/chat", *questions] if url else []
    done = subprocess.run(
        [node, str(CLIENT), mode, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        cwd=JS_DIR,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def assert_is_the_lab_answer(message: dict[str, Any], events: list[Event]) -> None:
    """The assembled assistant message holds the run: reasoning, tool, sources, text."""
    (call,) = of_type(events, ToolCallEvent)
    (result,) = of_type(events, ToolResultEvent)
    (cost,) = of_type(events, CostEvent)
    parts = message["parts"]
    assert [p["type"] for p in parts] == [
        "reasoning",
        "tool-search_kb",
        *["source-document"] * len(of_type(events, CitationEvent)),
        "text",
    ]
    assert parts[0]["text"] == of_type(events, ThoughtEvent)[0].text
    tool = parts[1]
    assert tool["state"] == "output-available"
    assert tool["input"] == call.arguments
    assert tool["output"] == {"sources": [s.model_dump(mode="json") for s in result.sources]}
    sources = [(p["sourceId"], p["title"]) for p in parts if p["type"] == "source-document"]
    assert sources == [(e.doc_id, e.title) for e in of_type(events, CitationEvent)]
    assert parts[-1] == {"type": "text", "text": lab_answer(events), "state": "done"}
    assert message["metadata"]["cost"]["outputTokens"] == cost.completion_tokens
    assert message["id"] == "msg_" + message["metadata"]["runId"].removeprefix("run_")


def test_the_sdk_validates_every_chunk_and_assembles_the_message(lab_url: str) -> None:
    seen = run_client("stream", lab_url, QUESTION)
    assert seen["status"] == 200
    assert seen["headers"]["x-vercel-ai-ui-message-stream"] == "v1"
    assert seen["invalid"] == [], "chunks that uiMessageChunkSchema rejected"
    assert seen["errors"] == []
    assert (seen["lastBlock"], seen["doneBlocks"]) == ("data: [DONE]", 1)
    read_stream(seen["chunks"])
    assert seen["message"]["role"] == "assistant"
    assert_is_the_lab_answer(seen["message"], lab_run(QUESTION))


def test_the_sdk_reports_a_failed_run_as_an_error(failing_lab_url: str) -> None:
    seen = run_client("stream", failing_lab_url, QUESTION)
    assert seen["invalid"] == []
    (error,) = of_type(lab_run(QUESTION, fail_after_tokens=3), ErrorEvent)
    assert seen["errors"] == [f"model_error: {error.message}"]
    text = seen["message"]["parts"][-1]
    assert text == {"type": "text", "text": "The Payments team", "state": "done"}


def test_the_chat_engine_behind_use_chat_holds_a_conversation(lab_url: str) -> None:
    seen = run_client("chat", lab_url, QUESTION, SECOND_QUESTION)
    assert seen["errors"] == []
    assert [t["status"] for t in seen["turns"]] == ["ready", "ready", "ready"]
    assert [f["finishReason"] for f in seen["finishes"]] == ["stop"] * 3
    assert not any(f["isError"] or f["isAbort"] for f in seen["finishes"])

    # Each request carried the whole conversation so far, as useChat sends it.
    assert [(r["trigger"], r["roles"]) for r in seen["requests"]] == [
        ("submit-message", ["user"]),
        ("submit-message", ["user", "assistant", "user"]),
        ("regenerate-message", ["user", "assistant", "user"]),
    ]
    assert seen["requests"][1]["partTypes"][1][:2] == ["reasoning", "tool-search_kb"]

    messages = seen["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert_is_the_lab_answer(messages[1], lab_run(QUESTION))
    assert_is_the_lab_answer(messages[3], lab_run(SECOND_QUESTION))
    assert messages[3]["id"] == seen["finishes"][2]["messageId"], "regenerate replaced it"

    # Status is transient: the chat heard it through onData but kept no part for it.
    expected = [e.message for e in of_type(lab_run(QUESTION), StatusEvent)]
    assert [d["data"]["message"] for d in seen["data"][: len(expected)]] == expected
    assert len(seen["data"]) == 3 * len(expected)
    assert all(d["type"] == "data-status" and d["transient"] for d in seen["data"])


def test_the_chat_engine_shows_a_failed_run_as_an_error(failing_lab_url: str) -> None:
    seen = run_client("chat", failing_lab_url, QUESTION)
    (error,) = of_type(lab_run(QUESTION, fail_after_tokens=3), ErrorEvent)
    assert seen["turns"] == [{"status": "error", "error": f"model_error: {error.message}"}]
    assert seen["finishes"][0]["isError"] is True
    assert seen["messages"][-1]["parts"][-1]["text"] == "The Payments team"


def test_the_chat_engine_shows_a_refused_request_with_its_detail(lab_url: str) -> None:
    seen = run_client("chat", lab_url, "   ")
    (turn,) = seen["turns"]
    assert turn["status"] == "error"
    detail = json.loads(turn["error"])["detail"]
    assert detail.endswith(
        "messages[0], the last user message, has no text: "
        + ('give it a part like {"type": "text", "text": "Who runs billing?"}')
    )


ENDINGS = {
    "cancelled-while-the-tool-runs": (
        [CALL, ErrorEvent(**RUN, seq=1, code="cancelled", message="stopped by the user")],
        [],
    ),
    "shutdown-while-the-tool-runs": (
        [CALL, ErrorEvent(**RUN, seq=1, code="server_shutdown", message="shutting down")],
        ["server_shutdown: shutting down"],
    ),
    "cancelled-mid-answer": (
        [
            TokenEvent(**RUN, seq=0, text="The"),
            ErrorEvent(**RUN, seq=1, code="cancelled", message="stopped by the user"),
        ],
        [],
    ),
}


@pytest.mark.parametrize("name", list(ENDINGS))
def test_the_sdk_accepts_every_way_a_run_can_end(name: str) -> None:
    events, errors = ENDINGS[name]
    _, parts = started(*events)
    seen = run_client("stdin", stdin=b"".join(parts))
    assert seen["invalid"] == []
    assert seen["errors"] == errors
    assert (seen["lastBlock"], seen["doneBlocks"]) == ("data: [DONE]", 1)
    for part in seen["message"]["parts"]:
        assert part.get("state") in ("done", "output-error"), "nothing is left streaming"
    if any(isinstance(e, ToolCallEvent) for e in events):
        (tool,) = seen["message"]["parts"]
        assert (tool["state"], tool["input"]) == ("output-error", CALL.arguments)
