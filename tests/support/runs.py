"""Helpers for tests about runs: a server's counters, a dropped reader, a comparison, the reference run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from labsupport.agent import chat_stream
from labsupport.client import stream_events
from labsupport.events import Event
from labsupport.kernel_server import ServerHandle
from labsupport.mockllm import MockLLM
from labsupport.runstate import RunState
from tests.support.secret import AUTH

QUESTION = "Who runs billing?"
# A mock model with no waits.
INSTANT: dict[str, Any] = {"ttft": 0, "tokens_per_second": None, "tool_delay": 0}


def stats(server: str | ServerHandle) -> dict[str, Any]:
    """The ``/stats`` of a server: a base URL (secret ``TEST_TOKEN``) or a handle with its own."""
    if isinstance(server, ServerHandle):
        response = httpx.get(server.url_for("/stats"), timeout=5.0)
    else:
        response = httpx.get(f"{server}/stats", headers=AUTH, timeout=5.0)
    result: dict[str, Any] = response.raise_for_status().json()
    return result


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Return once ``predicate()`` holds; fail if it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def comparable(events: list[Event]) -> list[dict[str, Any]]:
    """Events without their run and call ids, to compare runs of the same deterministic answer."""
    return [event.model_dump(exclude={"run_id", "call_id"}) for event in events]


def read_then_drop(
    url: str, count: int, method: Any = "POST", question: str = QUESTION
) -> list[Event]:
    """Read ``count`` events, then close the connection without cancelling the run."""
    received: list[Event] = []
    stream = stream_events(url, question, method=method, cancel_on_close=False)
    for event in stream:
        received.append(event)
        if len(received) == count:
            break
    stream.close()
    return received


def reference_run(question: str = QUESTION, **llm: Any) -> tuple[list[Event], RunState]:
    """The events the agent emits for ``question``, and the state they fold into."""
    events = list(chat_stream(question, llm=MockLLM(**{**INSTANT, **llm})))
    state = RunState()
    for event in events:
        state.apply(event)
    return events, state
