"""Clients for the lab server: SSE on the wire back into typed events, sync and async.

    >>> for event in stream_events(server.url, "Who runs billing?"):   # doctest: +SKIP
    ...     print(event.type)

The round trip is lossless: each event received equals the event the agent
emitted (``==`` on the pydantic models). Keep-alive comments are skipped.
The request sends ``Accept: text/event-stream`` exactly, which is what
jupyter-server-proxy needs to stream instead of buffering.

Closing the iterator (``break``, ``.close()``, leaving the ``with``) closes the
connection and asks the server to cancel the run (``POST /runs/{id}/cancel``),
so the run stops even on a server that keeps runs alive for a reconnection.
The iterator ends by itself after the run's ``done`` or ``error`` event.

Resuming: with ``reconnects=N`` a connection that drops mid-run is opened again
up to N times with ``Last-Event-ID``; a resumable server
(``ServerSettings(resumable=True)``) continues right after the last event
received, so the caller sees every event exactly once. ``last_event_id=``
resumes a run by hand, e.g. one whose reader was closed with
``cancel_on_close=False`` (a "dropped" connection, in lesson 7).

The server's secret: pass ``server.url`` (it carries ``?token=``) and the client
sends the secret as ``Authorization: Bearer``; or pass ``token=``; else
``$LAB_TOKEN`` is used (a program started outside the kernel).

Both clients share everything but the I/O (``labsupport.client_call.StreamCall``);
``stream_events`` and ``astream_events`` only drive httpx, as openai-python's
``Stream`` and ``AsyncStream`` share their decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx
from httpx_sse import EventSource

from .client_call import Method, StreamCall, StreamError, cancel_result, refused
from .events import Event

__all__ = ["StreamError", "acancel_run", "astream_events", "cancel_run", "stream_events"]

_DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=60.0)


def cancel_run(
    url: str, run_id: str, *, token: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """Ask the server to stop ``run_id`` now; returns ``{"run_id", "outcome", "events"}``.

    Raises ``StreamError`` with ``status_code`` 404 (unknown run) or 409 (already ended).
    """
    request = StreamCall(url, token).cancel_request(run_id)
    assert request is not None
    with httpx.Client(timeout=timeout) as http:
        return cancel_result(http.post(**request))


async def acancel_run(
    url: str, run_id: str, *, token: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """The ``await`` twin of ``cancel_run``."""
    request = StreamCall(url, token).cancel_request(run_id)
    assert request is not None
    async with httpx.AsyncClient(timeout=timeout) as http:
        return cancel_result(await http.post(**request))


def stream_events(
    url: str,
    message: str,
    *,
    method: Method = "POST",
    path: str = "/chat/stream",
    token: str | None = None,
    client: httpx.Client | None = None,
    timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
    reconnects: int = 0,
    last_event_id: str | None = None,
    cancel_on_close: bool = True,
) -> Generator[Event, None, None]:
    """Ask the server at ``url`` and yield the run's events as they arrive (blocking).

    ``method="GET"`` uses the EventSource-style endpoint. Pass ``client`` to reuse
    connections; otherwise one is opened and closed for this stream. Raises
    ``StreamError`` when the server refuses the request (4xx) or the stream breaks
    off and cannot be resumed (see the module docstring for ``token``,
    ``reconnects``, ``last_event_id`` and ``cancel_on_close``).
    """
    call = StreamCall(
        url,
        token,
        message=message,
        method=method,
        path=path,
        reconnects=reconnects,
        last_event_id=last_event_id,
        cancel_on_close=cancel_on_close,
    )
    http = httpx.Client(timeout=timeout) if client is None else client
    try:
        for attempt in call.attempts:
            try:
                with http.stream(**call.request()) as response:
                    if response.status_code != 200:
                        response.read()
                        raise refused(response)
                    for block in EventSource(response).iter_sse():
                        event = call.progress.read(block)
                        if event is not None:
                            yield event
                        if call.progress.ended:
                            return
            except httpx.TransportError as exc:
                call.broke(exc, attempt)
                continue
            call.broke(None, attempt)
    finally:
        try:
            cancel = call.cancel_request()
            if cancel is not None:
                with contextlib.suppress(httpx.HTTPError, StreamError, ValueError):
                    cancel_result(http.post(**cancel, timeout=2.0))
        finally:
            if client is None:
                http.close()


async def astream_events(
    url: str,
    message: str,
    *,
    method: Method = "POST",
    path: str = "/chat/stream",
    token: str | None = None,
    client: httpx.AsyncClient | None = None,
    timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
    reconnects: int = 0,
    last_event_id: str | None = None,
    cancel_on_close: bool = True,
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``stream_events``; ``aclose()`` or cancel it to stop the run."""
    call = StreamCall(
        url,
        token,
        message=message,
        method=method,
        path=path,
        reconnects=reconnects,
        last_event_id=last_event_id,
        cancel_on_close=cancel_on_close,
    )
    http = httpx.AsyncClient(timeout=timeout) if client is None else client
    try:
        for attempt in call.attempts:
            try:
                async with http.stream(**call.request()) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise refused(response)
                    blocks = EventSource(response).aiter_sse()
                    try:
                        async for block in blocks:
                            event = call.progress.read(block)
                            if event is not None:
                                yield event
                            if call.progress.ended:
                                return
                    finally:
                        await blocks.aclose()
            except httpx.TransportError as exc:
                call.broke(exc, attempt)
                continue
            call.broke(None, attempt)
    finally:
        try:
            cancel = call.cancel_request()
            if cancel is not None:
                # Shielded: a cancelled consumer still stops the run it leaves behind.
                with contextlib.suppress(httpx.HTTPError, StreamError, ValueError):
                    await asyncio.shield(_acancel_quietly(http, cancel))
        finally:
            if client is None:
                await http.aclose()


async def _acancel_quietly(http: httpx.AsyncClient, cancel: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError, StreamError, ValueError):
        cancel_result(await http.post(**cancel, timeout=2.0))
