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

Both clients share everything but the I/O: ``_Call`` builds the requests, reads
blocks into events (``_Progress``), decides whether a broken stream is resumed and
which run to cancel; ``stream_events`` and ``astream_events`` only drive httpx,
as openai-python's ``Stream`` and ``AsyncStream`` share their decoder.
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
from .lab_url import auth_headers, resolve_token
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


class _Call:
    """One call of either client, without its I/O: arguments, requests, progress, decisions."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        message: str = "",
        method: Method = "POST",
        path: str = "/chat/stream",
        reconnects: int = 0,
        last_event_id: str | None = None,
        cancel_on_close: bool = True,
    ) -> None:
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, got {type(message).__name__}")
        if method not in ("GET", "POST"):
            raise ValueError(f"method must be 'GET' or 'POST', got {method!r}")
        if isinstance(reconnects, bool) or not isinstance(reconnects, int) or reconnects < 0:
            raise ValueError(f"reconnects must be a whole number >= 0, got {reconnects!r}")
        if last_event_id is not None and not isinstance(last_event_id, str):
            raise TypeError(f"last_event_id must be a str, got {type(last_event_id).__name__}")
        self.base, token = resolve_token(url, token)
        self.auth = auth_headers(token)
        self.message, self.method, self.path = message, method, path
        self.attempts = range(reconnects + 1)
        self.cancel_on_close = cancel_on_close
        self.progress = _Progress(last_event_id)

    def request(self) -> dict[str, Any]:
        """The keyword arguments of ``http.stream(...)`` for the next attempt."""
        headers = {"Accept": MEDIA_TYPE, **self.auth}
        if self.progress.last_id is not None:
            headers["Last-Event-ID"] = self.progress.last_id
        body: dict[str, Any] = (
            {"params": {"message": self.message}}
            if self.method == "GET"
            else {"json": {"message": self.message}}
        )
        target = self.base.rstrip("/") + self.path
        return {"method": self.method, "url": target, "headers": headers, **body}

    def broke(self, exc: httpx.TransportError | None, attempt: int) -> None:
        """Return if a broken stream (``exc``) or one cut short (``None``) may be resumed."""
        last_id = self.progress.last_id
        if exc is not None and last_id is None:
            raise exc  # never connected, or nothing arrived: nothing to resume from
        if attempt == self.attempts[-1] or last_id is None:
            if exc is None:
                raise _truncated()
            raise StreamError(f"the connection broke off after {last_id}: {exc}") from exc

    def cancel_request(self, run_id: str | None = None) -> dict[str, Any] | None:
        """The ``http.post(...)`` arguments that cancel ``run_id`` (default: the run left running)."""
        if run_id is None:
            run_id = self.progress.left_running(self.cancel_on_close)
            if run_id is None:
                return None
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
        target = f"{self.base.rstrip('/')}/runs/{quote(run_id, safe='')}/cancel"
        return {"url": target, "headers": self.auth}


def _cancel_result(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise _refused(response)
    result: dict[str, Any] = response.json()
    return result


def cancel_run(
    url: str, run_id: str, *, token: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """Ask the server to stop ``run_id`` now; returns ``{"run_id", "outcome", "events"}``.

    Raises ``StreamError`` with ``status_code`` 404 (unknown run) or 409 (already ended).
    """
    request = _Call(url, token).cancel_request(run_id)
    assert request is not None
    with httpx.Client(timeout=timeout) as http:
        return _cancel_result(http.post(**request))


async def acancel_run(
    url: str, run_id: str, *, token: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """The ``await`` twin of ``cancel_run``."""
    request = _Call(url, token).cancel_request(run_id)
    assert request is not None
    async with httpx.AsyncClient(timeout=timeout) as http:
        return _cancel_result(await http.post(**request))


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
    call = _Call(
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
                        raise _refused(response)
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
                    _cancel_result(http.post(**cancel, timeout=2.0))
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
    call = _Call(
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
                        raise _refused(response)
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
        _cancel_result(await http.post(**cancel, timeout=2.0))
