"""SSE framing: golden bytes, the lesson's hand-written encoder against the library, round trips."""

from __future__ import annotations

import doctest
import itertools

import pytest
from fastapi.sse import format_sse_event
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from httpx_sse._models import ServerSentEvent
from hypothesis import given, settings
from hypothesis import strategies as st

import labsupport
from labsupport import sse
from labsupport.events import (
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    StatusEvent,
    TokenEvent,
)
from labsupport.sse import (
    KEEPALIVE,
    LabEncoder,
    decode_event,
    encode_event,
    event_id,
    parse_last_event_id,
)

GOLDEN: list[tuple[str, Event, bytes]] = [
    (
        "token-plain",
        TokenEvent(run_id="run_a", seq=5, text=" billing"),
        b'event: token\ndata: {"type":"token","run_id":"run_a","seq":5,"text":" billing"}\n'
        b"id: run_a:5\n\n",
    ),
    (
        "token-LF-escaped-in-json",
        TokenEvent(run_id="run_a", seq=6, text="line\nnext"),
        b'event: token\ndata: {"type":"token","run_id":"run_a","seq":6,"text":"line\\nnext"}\n'
        b"id: run_a:6\n\n",
    ),
    (
        "token-injection-attempt",
        TokenEvent(run_id="run_a", seq=7, text="\n\nevent: done\ndata: x\n\n"),
        b'event: token\ndata: {"type":"token","run_id":"run_a","seq":7,'
        b'"text":"\\n\\nevent: done\\ndata: x\\n\\n"}\nid: run_a:7\n\n',
    ),
    (
        "token-unicode-raw-utf8",
        TokenEvent(run_id="run_a", seq=8, text="café \u2028 ☕"),
        'event: token\ndata: {"type":"token","run_id":"run_a","seq":8,"text":"café \u2028 ☕"}\n'
        "id: run_a:8\n\n".encode(),
    ),
    (
        "status",
        StatusEvent(run_id="run_b", seq=0, message="thinking"),
        b'event: status\ndata: {"type":"status","run_id":"run_b","seq":0,"message":"thinking"}\n'
        b"id: run_b:0\n\n",
    ),
    (
        "cost",
        CostEvent(run_id="run_b", seq=40, prompt_tokens=107, completion_tokens=30, usd=9.85e-05),
        b'event: cost\ndata: {"type":"cost","run_id":"run_b","seq":40,"prompt_tokens":107,'
        b'"completion_tokens":30,"usd":0.0000985}\nid: run_b:40\n\n',
    ),
    (
        "done",
        DoneEvent(run_id="run_b", seq=41),
        b'event: done\ndata: {"type":"done","run_id":"run_b","seq":41}\nid: run_b:41\n\n',
    ),
    (
        "error",
        ErrorEvent(run_id="run_c", seq=3, code="model_error", message="boom"),
        b'event: error\ndata: {"type":"error","run_id":"run_c","seq":3,"code":"model_error",'
        b'"message":"boom"}\nid: run_c:3\n\n',
    ),
]


@pytest.mark.parametrize(("event", "wire"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_encode_event_gives_golden_bytes(event: Event, wire: bytes) -> None:
    assert encode_event(event) == wire


def test_keepalive_is_one_comment_block() -> None:
    assert KEEPALIVE == b": keep-alive\n\n"


def test_event_id_joins_run_id_and_seq() -> None:
    assert event_id(DoneEvent(run_id="run_x", seq=12)) == "run_x:12"


def test_stream_headers_turn_off_caching_and_proxy_buffering() -> None:
    assert sse.STREAM_HEADERS == {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def test_decode_event_refuses_a_name_that_disagrees_with_the_data() -> None:
    data = TokenEvent(run_id="run_a", seq=1, text="x").to_json()
    with pytest.raises(ValueError, match="'done' does not match the data's type 'token'"):
        decode_event("done", data, "run_a:1")


def test_decode_event_refuses_an_id_that_disagrees_with_the_data() -> None:
    data = TokenEvent(run_id="run_a", seq=1, text="x").to_json()
    with pytest.raises(ValueError, match="'run_a:2' does not match"):
        decode_event("token", data, "run_a:2")


def test_docstring_example_runs() -> None:
    globs = {**vars(labsupport), **vars(sse)}
    result = doctest.testmod(sse, globs=globs)
    assert result.attempted > 0
    assert result.failed == 0


# -- the lesson's hand-written encoder, byte for byte against the library -----------------


def lesson_format_sse(data: str, event: str | None = None, id: str | None = None) -> bytes:
    """The solution lesson 05 asks for (kept in step with solution/05_serving_sse.ipynb)."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.append(f"data: {line}")
    if id is not None:
        lines.append(f"id: {id}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


FRAMING_CASES = [
    ("one-line", "hello", None, None),
    ("event+id", '{"a":1}', "token", "run_a:1"),
    ("multi-line:LF", "first\nsecond", "message", None),
    ("multi-line:CRLF", "first\r\nsecond", None, "7"),
    ("multi-line:CR", "first\rsecond", None, None),
    ("trailing-LF", "ends\n", None, None),
    ("empty-data", "", "ping", None),
    ("blank-lines-inside", "a\n\nb", None, None),
    ("unicode", "naïve ☕ 🚀", "token", None),
    ("injection-attempt", "x\n\nevent: done\ndata: forged", "token", "1"),
]


@pytest.mark.parametrize(
    ("data", "event", "id_"), [c[1:] for c in FRAMING_CASES], ids=[c[0] for c in FRAMING_CASES]
)
def test_lesson_format_sse_matches_library(data: str, event: str | None, id_: str | None) -> None:
    assert lesson_format_sse(data, event, id_) == format_sse_event(
        data_str=data, event=event, id=id_
    )


single_line = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=20)


@settings(max_examples=200, deadline=None)
@given(data=st.text(), event=st.none() | single_line, id_=st.none() | single_line)
def test_lesson_format_sse_matches_library_for_any_text(
    data: str, event: str | None, id_: str | None
) -> None:
    assert lesson_format_sse(data, event, id_) == format_sse_event(
        data_str=data, event=event, id=id_
    )


# -- encode -> bytes in arbitrary chunks -> httpx-sse's parser ---------------------------


def parse(wire: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    """Parse ``wire`` with httpx-sse's decoders, fed in pieces cut at ``cuts``.

    A block without data dispatches nothing in the SSE spec; httpx-sse still reports
    one after a comment once an id was seen, so it is dropped here as in the client.
    """
    lines, decoder, blocks = SSELineDecoder(), SSEDecoder(), []
    text = wire.decode("utf-8")  # httpx decodes bytes incrementally; the cuts fall between chars
    edges = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    for piece in (text[a:b] for a, b in itertools.pairwise(edges)):
        for line in lines.decode(piece):
            block = decoder.decode(line)
            if block is not None:
                blocks.append(block)
    for line in lines.flush():
        block = decoder.decode(line)
        if block is not None:
            blocks.append(block)
    return [b for b in blocks if b.data]


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(), min_size=1, max_size=4), cuts=st.lists(st.integers(0, 10_000)))
def test_any_token_text_survives_the_wire_and_never_adds_an_event(
    texts: list[str], cuts: list[int]
) -> None:
    sent = [TokenEvent(run_id="run_p", seq=i, text=t) for i, t in enumerate(texts)]
    wire = b"".join([KEEPALIVE, *(encode_event(e) for e in sent), KEEPALIVE])
    blocks = parse(wire, cuts)
    assert len(blocks) == len(sent)
    assert [decode_event(b.event, b.data, b.id) for b in blocks] == sent


@pytest.mark.parametrize(
    "text",
    ["\n", "\r", "\r\n", "\n\ndata: x", "\n\nevent: done\ndata: {}\n\n", "\u2028\u2029\x85", ""],
    ids=["LF", "CR", "CRLF", "data-injection", "event-injection", "unicode-separators", "empty"],
)
def test_tricky_token_text_survives_the_wire(text: str) -> None:
    sent = TokenEvent(run_id="run_p", seq=0, text=text)
    (block,) = parse(encode_event(sent), [])
    assert decode_event(block.event, block.data, block.id) == sent


def test_lab_encoder_sets_the_reconnection_delay_on_the_first_block_only() -> None:
    encoder = LabEncoder(retry_ms=1000)
    first = encoder.encode(TokenEvent(run_id="run_r", seq=0, text="a"))
    second = encoder.encode(TokenEvent(run_id="run_r", seq=1, text="b"))
    assert first.endswith(b"id: run_r:0\nretry: 1000\n\n")
    assert second == encode_event(TokenEvent(run_id="run_r", seq=1, text="b"))


@pytest.mark.parametrize("value", ["run_a", "run_a:-1", "x:1", "run_a:01", ""])
def test_a_malformed_last_event_id_is_refused_with_the_value(value: str) -> None:
    with pytest.raises(ValueError, match="Last-Event-ID must be a run id and a sequence number"):
        parse_last_event_id(value)
