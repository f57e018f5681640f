"""Checks for lesson 06 (a real LLM through the openai SDK).

The checks build SDK chunk objects in process, shaped as the lab's endpoint
(and OpenAI) sends them, so they need no server and always give the same verdict.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import (
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)

from ..mockllm import tokenize
from ._report import Check, attempt, fail, ok

__all__ = ["assemble_tool_calls", "collect_text"]

_ANSWER = "Dana Okafor leads the Payments team, which runs billing. [D3]"


def _chunk(
    delta: ChoiceDelta | None, finish: Any = None, usage: CompletionUsage | None = None
) -> ChatCompletionChunk:
    choices = [] if delta is None else [Choice(index=0, delta=delta, finish_reason=finish)]
    return ChatCompletionChunk(
        id="chatcmpl-check",
        object="chat.completion.chunk",
        created=0,
        model="lab-mock-1",
        choices=choices,
        usage=usage,
    )


def _text_chunks(text: str) -> Iterator[ChatCompletionChunk]:
    yield _chunk(ChoiceDelta(role="assistant", content=""))
    for token in tokenize(text):
        yield _chunk(ChoiceDelta(content=token))
    yield _chunk(ChoiceDelta(), finish="stop")
    # With stream_options={"include_usage": True} the last chunk has no choices at all.
    yield _chunk(
        None, usage=CompletionUsage(prompt_tokens=90, completion_tokens=15, total_tokens=105)
    )


def collect_text(func: Callable[[Any], Any]) -> Check:
    """Exercise 1: ``collect_text(stream)`` prints each piece as it comes and returns the whole text."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = attempt(func, _text_chunks(_ANSWER))
    if result.error is not None:
        if isinstance(result.error, IndexError):
            return fail(
                f"it raised {result.describe_error()}",
                "the usage chunk at the end has choices == []; skip chunks without choices",
            )
        return fail(f"it raised {result.describe_error()}", "read chunk.choices[0].delta.content")
    if result.value is None:
        return fail("it returned None", "collect the pieces in a list and return ''.join(pieces)")
    if result.value != _ANSWER:
        return fail(
            f"it returned {result.value!r}",
            "join every delta.content, treating None as '' (the first and last chunks carry none)",
        )
    if printed.getvalue() != _ANSWER:
        return fail(
            f"it printed {printed.getvalue()!r}",
            "print each piece with end='' and flush=True, and print nothing else",
        )
    return ok("collect_text prints the answer as it streams and returns all of it")


def _call_delta(
    index: int, *, id: str | None = None, name: str | None = None, args: str = ""
) -> ChatCompletionChunk:
    function = ChoiceDeltaToolCallFunction(name=name, arguments=args)
    call = ChoiceDeltaToolCall(
        index=index, id=id, type="function" if id else None, function=function
    )
    return _chunk(ChoiceDelta(tool_calls=[call]))


def _tool_chunks(
    calls: list[tuple[str, str, str]], *, interleave: bool
) -> list[ChatCompletionChunk]:
    chunks = [_chunk(ChoiceDelta(role="assistant", content=None))]
    heads = [_call_delta(i, id=cid, name=name) for i, (cid, name, _) in enumerate(calls)]
    pieces = [
        [_call_delta(i, args=p) for p in tokenize(args)] for i, (_, _, args) in enumerate(calls)
    ]
    if interleave:
        chunks += heads
        longest = max(len(p) for p in pieces)
        for n in range(longest):
            chunks += [p[n] for p in pieces if n < len(p)]
    else:
        for head, own in zip(heads, pieces, strict=True):
            chunks += [head, *own]
    chunks.append(_chunk(ChoiceDelta(), finish="tool_calls"))
    return chunks


def assemble_tool_calls(func: Callable[[Any], Any]) -> Check:
    """Exercise 2: ``assemble_tool_calls(chunks)`` puts tool calls back together by index."""
    one = [("call_a", "search_kb", json.dumps({"query": "runs billing", "k": 3}))]
    two = [*one, ("call_b", "search_kb", json.dumps({"query": "on-call rotation", "k": 2}))]
    cases = [("one call", one, False), ("two calls, interleaved", two, True)]
    for label, calls, interleave in cases:
        expected = [{"id": c, "name": n, "arguments": a} for c, n, a in calls]
        result = attempt(func, _tool_chunks(calls, interleave=interleave))
        if result.error is not None:
            return fail(
                f"with {label} it raised {result.describe_error()}",
                "skip chunks whose delta has no tool_calls (the first and the last)",
            )
        if result.value is None:
            return fail("it returned None", "return a list of {'id', 'name', 'arguments'} dicts")
        if result.value != expected:
            return fail(
                f"with {label} it returned {result.value!r}",
                "key the calls by delta.index: keep the first id and name, and append every "
                "arguments piece; return them in index order",
            )
    return ok("assemble_tool_calls rebuilds each call, and its arguments parse as JSON")
