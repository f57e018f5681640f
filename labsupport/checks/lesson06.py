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
from ._report import Check, attempt, exercise, fail, ok

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


@exercise
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


_BY_INDEX = (
    "keep a dict of calls keyed by index, each made on its first delta with "
    "calls.setdefault(delta.index, {'id': None, 'name': None, 'arguments': ''}); "
    "at the end return [calls[i] for i in sorted(calls)]"
)


def _call_problem(
    label: str, got: Any, expected: list[dict[str, str]]
) -> tuple[str, str, str] | None:
    """What is wrong with ``got`` for these calls: (problem, nudge, stronger hint), or None."""
    if not isinstance(got, list):
        return (
            f"with {label} it returned a {type(got).__name__}, not a list",
            "return a list with one dict per call",
            _BY_INDEX,
        )
    if len(got) != len(expected):
        return (
            f"with {label} it returned {len(got)} call(s), expected {len(expected)}",
            "each tool-call delta says which call it belongs to: delta.index",
            _BY_INDEX,
        )
    if sorted(map(repr, got)) == sorted(map(repr, expected)) and got != expected:
        return (
            f"with {label} it returned the right calls in the wrong order",
            "return the calls in the order of their index",
            "return [calls[i] for i in sorted(calls)]",
        )
    for number, (call, want) in enumerate(zip(got, expected, strict=True)):
        where = f"with {label}, call {number}"
        if not isinstance(call, dict) or set(call) != set(want):
            return (
                f"{where} is {call!r}",
                "each call is a dict with exactly the keys 'id', 'name' and 'arguments'",
                "start each call as {'id': None, 'name': None, 'arguments': ''} and fill it in",
            )
        if (call["id"], call["name"]) != (want["id"], want["name"]):
            return (
                f"{where} has id {call['id']!r} and name {call['name']!r}, expected "
                f"{want['id']!r} and {want['name']!r}",
                "the id and the name come in a call's first delta only; later deltas carry None",
                "set call['id'] only if delta.id, and call['name'] only if delta.function.name",
            )
        if call["arguments"] != want["arguments"]:
            return (
                f"{where} has arguments {call['arguments']!r}, expected {want['arguments']!r}",
                "the arguments arrive a few characters per delta; the call needs all of them, "
                "in order",
                "append each piece: call['arguments'] += delta.function.arguments or ''",
            )
    return None


@exercise
def assemble_tool_calls(func: Callable[[Any], Any]) -> Check:
    """Exercise 2: ``assemble_tool_calls(chunks)`` puts tool calls back together by index.

    The first failed attempt gets a nudge; from the second on, a stronger hint as well.
    """
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
                stronger="start the loop with: if not chunk.choices or not "
                "chunk.choices[0].delta.tool_calls: continue",
            )
        if result.value is None:
            return fail(
                "it returned None",
                "return a list of {'id', 'name', 'arguments'} dicts",
                stronger=_BY_INDEX,
            )
        problem = _call_problem(label, result.value, expected)
        if problem is not None:
            text, nudge, stronger = problem
            return fail(text, nudge, stronger=stronger)
    return ok("assemble_tool_calls rebuilds each call, and its arguments parse as JSON")
