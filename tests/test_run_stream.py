"""The response that writes a run: SSE headers, the run's bytes, and a disconnect that stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from labsupport.events import DoneEvent, Event, TokenEvent
from labsupport.run_registry import RunRegistry
from labsupport.run_stream import RunStream
from labsupport.sse import LabEncoder


async def slow(run_id: str, closed: list[bool]) -> AsyncIterator[Event]:
    try:
        for seq in range(1000):
            yield TokenEvent(run_id=run_id, seq=seq, text="x")
            await asyncio.sleep(0.01)
        yield DoneEvent(run_id=run_id, seq=1000)
    finally:
        closed.append(True)


async def test_a_client_that_leaves_stops_the_run_and_the_stream_is_uncounted() -> None:
    registry = RunRegistry()
    closed: list[bool] = []
    run = registry.new_run("run_s", "q", slow("run_s", closed), LabEncoder(), resumable=False)
    response = RunStream(registry, run, 0, keepalive_seconds=5.0)
    sent: list[dict[str, Any]] = []
    leave = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 3:
            leave.set()

    await asyncio.wait_for(response({"type": "http"}, receive, send), 5)
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 200
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"x-accel-buffering"] == b"no"
    assert headers[b"x-run-id"] == b"run_s"
    assert b"event: token" in sent[1]["body"]
    assert closed == [True]
    assert run.outcome == "cancelled"
    assert registry.counters.active_streams == 0
    assert registry.counters.streams_dropped == 1
