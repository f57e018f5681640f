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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Generator
from typing import Any, Literal
from urllib.parse import quote

import httpx
from httpx_sse import EventSource, ServerSentEvent

from .events import TERMINAL_TYPES, Event
from .sse import MEDIA_TYPE, decode_event, event_id

__all__ = ["StreamError", "acancel_run", "astream_events", "cancel_run", "stream_events"]

Method = Literal["GET", "POST"]

_DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=60.0)


class StreamError(RuntimeError):
    """The server refused the request (``status_code``, ``detail``) or the stream broke off."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


def _request(
    url: str, message: str, method: Method, path: str, last_event_id: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    if method not in ("GET", "POST"):
        raise ValueError(f"method must be 'GET' or 'POST', got {method!r}")
    target = url.rstrip("/") + path
    headers = {"Accept": MEDIA_TYPE}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    if method == "GET":
        return method, target, {"params": {"message": message}, "headers": headers}
    return method, target, {"json": {"message": message}, "headers": headers}


def _refused(response: httpx.Response) -> StreamError:
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text
    return StreamError(
        f"the server refused the request ({response.status_code}): {detail}",
        status_code=response.status_code,
        detail=detail,
    )


class _Progress:
    """How far one stream got: the id to resume after, its run, whether it ended.

    Both clients read blocks through it, so resuming and cancelling work the same.
    """

    def __init__(self, last_event_id: str | None) -> None:
        self.last_id = last_event_id
        self.run_id: str | None = None
        self.ended = False

    def read(self, block: ServerSentEvent) -> Event | None:
        """The event a block carries, or ``None`` for a block without data.

        The SSE spec dispatches nothing for those, but httpx-sse reports one for a
        keep-alive comment that follows an event with an id.
        """
        if not block.data:
            return None
        event = decode_event(block.event, block.data, block.id)
        self.last_id, self.run_id = event_id(event), event.run_id
        self.ended = event.type in TERMINAL_TYPES
        return event

    def left_running(self, cancel_on_close: bool) -> str | None:
        """The run to cancel when the consumer stops early (and asked for that), else ``None``."""
        return self.run_id if cancel_on_close and not self.ended else None


def _truncated() -> StreamError:
    return StreamError("the stream ended before a done or error event")


def _check_options(reconnects: int, last_event_id: str | None) -> None:
    if isinstance(reconnects, bool) or not isinstance(reconnects, int) or reconnects < 0:
        raise ValueError(f"reconnects must be a whole number >= 0, got {reconnects!r}")
    if last_event_id is not None and not isinstance(last_event_id, str):
        raise TypeError(f"last_event_id must be a str, got {type(last_event_id).__name__}")


def _resume_or_raise(
    exc: httpx.TransportError | None, last_id: str | None, *, last_attempt: bool
) -> None:
    """Return if a broken stream (``exc``) or one cut short (``None``) may be resumed."""
    if exc is not None and last_id is None:
        raise exc  # never connected, or nothing arrived: nothing to resume from
    if last_attempt or last_id is None:
        if exc is None:
            raise _truncated()
        raise StreamError(f"the connection broke off after {last_id}: {exc}") from exc


def _cancel_target(url: str, run_id: str) -> str:
    if not isinstance(run_id, str) or not run_id:
        raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
    return f"{url.rstrip('/')}/runs/{quote(run_id, safe='')}/cancel"


def _cancel_result(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise _refused(response)
    result: dict[str, Any] = response.json()
    return result


def cancel_run(url: str, run_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the server to stop ``run_id`` now; returns ``{"run_id", "outcome", "events"}``.

    Raises ``StreamError`` with ``status_code`` 404 (unknown run) or 409 (already ended).
    """
    target = _cancel_target(url, run_id)
    with httpx.Client(timeout=timeout) as http:
        return _cancel_result(http.post(target))


async def acancel_run(url: str, run_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The ``await`` twin of ``cancel_run``."""
    target = _cancel_target(url, run_id)
    async with httpx.AsyncClient(timeout=timeout) as http:
        return _cancel_result(await http.post(target))


def stream_events(
    url: str,
    message: str,
    *,
    method: Method = "POST",
    path: str = "/chat/stream",
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
    off and cannot be resumed (see the module docstring for ``reconnects``,
    ``last_event_id`` and ``cancel_on_close``).
    """
    _request(url, message, method, path)  # refuse bad arguments before any request
    _check_options(reconnects, last_event_id)
    own = client is None
    http = httpx.Client(timeout=timeout) if client is None else client
    progress = _Progress(last_event_id)
    try:
        for attempt in range(reconnects + 1):
            verb, target, kwargs = _request(url, message, method, path, progress.last_id)
            try:
                with http.stream(verb, target, **kwargs) as response:
                    if response.status_code != 200:
                        response.read()
                        raise _refused(response)
                    for block in EventSource(response).iter_sse():
                        event = progress.read(block)
                        if event is not None:
                            yield event
                        if progress.ended:
                            return
            except httpx.TransportError as exc:
                _resume_or_raise(exc, progress.last_id, last_attempt=attempt == reconnects)
                continue
            _resume_or_raise(None, progress.last_id, last_attempt=attempt == reconnects)
    finally:
        try:
            run_id = progress.left_running(cancel_on_close)
            if run_id is not None:
                with contextlib.suppress(httpx.HTTPError, StreamError, ValueError):
                    _cancel_result(http.post(_cancel_target(url, run_id), timeout=2.0))
        finally:
            if own:
                http.close()


async def astream_events(
    url: str,
    message: str,
    *,
    method: Method = "POST",
    path: str = "/chat/stream",
    client: httpx.AsyncClient | None = None,
    timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
    reconnects: int = 0,
    last_event_id: str | None = None,
    cancel_on_close: bool = True,
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``stream_events``; ``aclose()`` or cancel it to stop the run."""
    _request(url, message, method, path)
    _check_options(reconnects, last_event_id)
    own = client is None
    http = httpx.AsyncClient(timeout=timeout) if client is None else client
    progress = _Progress(last_event_id)
    try:
        for attempt in range(reconnects + 1):
            verb, target, kwargs = _request(url, message, method, path, progress.last_id)
            try:
                async with http.stream(verb, target, **kwargs) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise _refused(response)
                    blocks = EventSource(response).aiter_sse()
                    try:
                        async for block in blocks:
                            event = progress.read(block)
                            if event is not None:
                                yield event
                            if progress.ended:
                                return
                    finally:
                        await blocks.aclose()
            except httpx.TransportError as exc:
                _resume_or_raise(exc, progress.last_id, last_attempt=attempt == reconnects)
                continue
            _resume_or_raise(None, progress.last_id, last_attempt=attempt == reconnects)
    finally:
        try:
            run_id = progress.left_running(cancel_on_close)
            if run_id is not None:
                # Shielded: a cancelled consumer still stops the run it leaves behind.
                with contextlib.suppress(httpx.HTTPError, StreamError, ValueError):
                    await asyncio.shield(_acancel_quietly(http, url, run_id))
        finally:
            if own:
                await http.aclose()


async def _acancel_quietly(http: httpx.AsyncClient, url: str, run_id: str) -> None:
    with contextlib.suppress(httpx.HTTPError, StreamError, ValueError):
        _cancel_result(await http.post(_cancel_target(url, run_id), timeout=2.0))
