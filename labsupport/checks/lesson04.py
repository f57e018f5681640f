"""Checks for lesson 04 (cancellation)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Generator, Iterator
from typing import Any

from ..agent import achat_stream, chat_stream
from ..events import Event
from ..mockllm import MockLLM
from ._report import Check, attempt, exercise, fail, ok

__all__ = ["answer_with_budget", "consume"]

QUESTION = "Who runs billing?"


def _full_answer() -> list[str]:
    return [e.text for e in chat_stream(QUESTION, llm=MockLLM.instant()) if e.type == "token"]


class _Tracked:
    """A chat stream that remembers whether its consumer closed it."""

    def __init__(self, llm: MockLLM) -> None:
        self.llm = llm
        self.closed = False

    def stream(self) -> Generator[Event, None, None]:
        try:
            yield from chat_stream(QUESTION, llm=self.llm)
        except GeneratorExit:
            self.closed = True
            raise


@exercise
def answer_with_budget(func: Callable[[Iterator[Event], int], Any]) -> Check:
    """Exercise 1: stop the stream, and so the spending, at a token budget."""
    full = _full_answer()
    tracked = _Tracked(MockLLM.instant())
    # Held here: a generator nobody references is closed by the garbage collector,
    # which would hide a missing close().
    stream = tracked.stream()
    result = attempt(func, stream, 5)
    if result.error is not None:
        return fail(
            f"answer_with_budget(stream, 5) raised {result.describe_error()}",
            "loop over the events with `for event in stream:` and count the tokens.",
        )
    expected = ("".join(full[:5]), "stopped")
    if result.value != expected:
        return fail(
            f"answer_with_budget(stream, 5) returned {result.value!r}, expected {expected!r}.",
            "join the texts of the first 5 token events, and return them with the word 'stopped'.",
        )
    if tracked.llm.tokens_generated > 5:
        return fail(
            f"the model generated {tracked.llm.tokens_generated} tokens for a budget of 5.",
            "stop as soon as you have max_tokens tokens; asking for one more makes the model write it.",
        )
    if not tracked.closed:
        return fail(
            "you stopped reading but left the stream open: the model still holds its request.",
            "call stream.close() before returning: it raises GeneratorExit inside the agent.",
        )
    tracked = _Tracked(MockLLM.instant())
    result = attempt(func, tracked.stream(), 1000)
    expected = ("".join(full), "finished")
    if result.value != expected:
        return fail(
            f"with a budget larger than the answer you returned {result.value!r}.",
            "when the stream ends before the budget, return the whole text and 'finished'.",
        )
    return ok(
        "answer_with_budget() stops at the budget and closes the stream: "
        "the model generated exactly 5 tokens."
    )


@exercise
async def consume(func: Callable[[Any, list[str]], Any]) -> Check:
    """Exercise 2: an async consumer that lets cancellation through."""
    if not inspect.iscoroutinefunction(func):
        return fail(
            "consume is not an async function.",
            "define it with `async def consume(stream, tokens):` and use `async for`.",
        )
    llm = MockLLM(ttft=0.0, tokens_per_second=100, tool_delay=0.0)
    tokens: list[str] = []
    task = asyncio.create_task(func(achat_stream(QUESTION, llm=llm), tokens))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0
    # Polling the student's list: their code has no event to wait on.
    while len(tokens) < 3 and not task.done() and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    if len(tokens) < 3:
        task.cancel()
        await asyncio.wait({task})
        error = None if task.cancelled() else task.exception()
        problem = f"raised {type(error).__name__}: {error}" if error else "read no tokens"
        return fail(
            f"consume(stream, tokens) {problem}.",
            "`async for event in stream:` and append event.text to tokens for each token event.",
        )
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        error = task.exception()
        if error is not None:
            return fail(
                f"when cancelled, consume raised {type(error).__name__}: {error}",
                "let asyncio.CancelledError through: re-raise it, do not replace it.",
            )
        return fail(
            "the task was cancelled but ended as if it had finished normally: "
            "your code swallowed CancelledError.",
            "if you catch asyncio.CancelledError (to log, say), end the except block with `raise`.",
        )
    shown = len(tokens)
    await asyncio.sleep(0.05)
    if llm.tokens_generated != shown:
        return fail(
            f"after the cancellation the model went on to {llm.tokens_generated} tokens "
            f"(you received {shown}).",
            "do not catch the cancellation inside the loop and carry on: it must end the loop.",
        )
    full: list[str] = []
    await func(achat_stream(QUESTION, llm=MockLLM.instant()), full)
    if full != _full_answer():
        return fail(
            f"without cancellation consume collected {len(full)} tokens, expected {len(_full_answer())}.",
            "append every token event's text, in order.",
        )
    return ok(
        "consume() reads tokens until cancelled, lets CancelledError through, "
        "and the model stops when it does."
    )
