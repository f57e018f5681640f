"""Checks for lesson 05 (serving the stream over Server-Sent Events)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.sse import format_sse_event

from ..agent import chat_stream
from ..lab_url import auth_headers, resolve_token
from ..mockllm import MockLLM
from ._report import Check, attempt, exercise, fail, ok

__all__ = ["QUESTION", "first_tokens", "format_sse"]

QUESTION = "Who runs billing?"

# (what the case shows, data, event, id)
_FRAMING_CASES: list[tuple[str, str, str | None, str | None]] = [
    ("one line of data", "hello", None, None),
    ("an event name and an id", '{"text":"hi"}', "token", "run_a:3"),
    ("data with a \\n inside", "first line\nsecond line", "message", None),
    ("data with a \\r\\n inside", "first line\r\nsecond line", None, None),
    ("data with a lone \\r inside", "first line\rsecond line", None, None),
    ("an attempt to inject an event", "x\n\nevent: done\ndata: forged", "token", "7"),
    ("empty data", "", "ping", None),
]


@exercise
def format_sse(func: Callable[..., Any]) -> Check:
    """Exercise 1: ``format_sse(data, event=None, id=None)`` matches FastAPI's encoder byte for byte."""
    for what, data, event, id_ in _FRAMING_CASES:
        expected = format_sse_event(data_str=data, event=event, id=id_)
        result = attempt(func, data, event=event, id=id_)
        if result.error is not None:
            return fail(
                f"format_sse() raised {result.describe_error()} for {what}.",
                "build a list of lines, join them with '\\n', add the blank line, then .encode('utf-8').",
            )
        got = result.value
        if got is None:
            return fail(
                "format_sse() returned None.",
                "return the encoded block: bytes ending in b'\\n\\n'.",
            )
        if isinstance(got, str):
            return fail(
                "format_sse() returned a str; the wire carries bytes.",
                "finish with .encode('utf-8').",
            )
        if got == expected:
            continue
        if not isinstance(got, bytes):
            return fail(
                f"format_sse() returned a {type(got).__name__}.", "return bytes (.encode('utf-8'))."
            )
        if not got.endswith(b"\n\n"):
            hint = "a block ends with an empty line: the last two bytes are b'\\n\\n'."
        elif "\n" in data or "\r" in data:
            hint = (
                "every line of the data gets its own 'data: ' prefix; split on '\\r\\n', '\\r' "
                "and '\\n' (replace the first two with '\\n', then split)."
            )
        else:
            hint = "the order is event:, then data:, then id:, each 'name: value' on its own line."
        return fail(f"for {what}, expected {expected!r}, got {got!r}.", hint)
    return ok(
        "format_sse() matches fastapi.sse.format_sse_event byte for byte, multi-line data included."
    )


def _stats(url: str) -> dict[str, Any]:
    base, token = resolve_token(url)  # server.url carries the server's secret
    response = httpx.get(f"{base.rstrip('/')}/stats", headers=auth_headers(token), timeout=5)
    result: dict[str, Any] = response.json()
    return result


@exercise
def first_tokens(func: Callable[..., Any], url: str) -> Check:
    """Exercise 2: ``first_tokens(url, question, n)`` returns the first n tokens and leaves early."""
    n = 5
    tokens = [e.text for e in chat_stream(QUESTION, llm=MockLLM.instant()) if e.type == "token"]
    expected = "".join(tokens[:n])
    before = _stats(url)
    result = attempt(func, url, QUESTION, n)
    if result.error is not None:
        return fail(
            f"first_tokens() raised {result.describe_error()}.",
            "loop over stream_events(url, question) and keep the text of token events.",
        )
    if result.value != expected:
        return fail(
            f"first_tokens() returned {result.value!r}, expected {expected!r}.",
            "join the .text of the first n events whose type is 'token', then stop.",
        )
    deadline = time.monotonic() + 3.0
    after = _stats(url)
    while after["active_streams"] > before["active_streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
        after = _stats(url)
    if after["runs_completed"] > before["runs_completed"]:
        return fail(
            "the text is right, but you read the whole stream: the model answered to the end.",
            "break as soon as you have n tokens, inside `with closing(stream_events(url, question)) "
            "as events:`, so the connection closes when the block ends.",
        )
    if after["runs_cancelled"] <= before["runs_cancelled"]:
        return fail(
            "the server did not see the run cancelled.",
            "wrap stream_events() in `with closing(...)` (from contextlib) and break after n tokens.",
        )
    return ok(
        f"first_tokens() returned the first {n} tokens and left; /stats shows the run cancelled."
    )
