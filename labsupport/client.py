"""Clients for the lab server: SSE on the wire back into typed events, sync and async.

    >>> for event in stream_events(server.url, "Who runs billing?"):   # doctest: +SKIP
    ...     print(event.type)

The round trip is lossless: each event received equals the event the agent
emitted (``==`` on the pydantic models). Keep-alive comments are skipped.
The request sends ``Accept: text/event-stream`` exactly, which is what
jupyter-server-proxy needs to stream instead of buffering.

Closing the iterator (``break``, ``.close()``, leaving the ``with``) closes the
connection, and the server stops the run. The iterator ends by itself after the
run's ``done`` or ``error`` event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any, Literal

import httpx
from httpx_sse import EventSource, ServerSentEvent

from .events import TERMINAL_TYPES, Event
from .sse import MEDIA_TYPE, decode_event

__all__ = ["StreamError", "astream_events", "stream_events"]

Method = Literal["GET", "POST"]

_DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=60.0)


class StreamError(RuntimeError):
    """The server refused the request (``status_code``, ``detail``) or the stream broke off."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


def _request(url: str, message: str, method: Method, path: str) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    if method not in ("GET", "POST"):
        raise ValueError(f"method must be 'GET' or 'POST', got {method!r}")
    target = url.rstrip("/") + path
    headers = {"Accept": MEDIA_TYPE}
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


def _decode(block: ServerSentEvent) -> tuple[Event, bool]:
    """The event a block carries, and whether it is the run's last.

    Callers skip blocks without data first: the SSE spec dispatches nothing for them,
    but httpx-sse reports one for a keep-alive comment that follows an event with an id.
    """
    event = decode_event(block.event, block.data, block.id)
    return event, event.type in TERMINAL_TYPES


def _truncated() -> StreamError:
    return StreamError("the stream ended before a done or error event")


def stream_events(
    url: str,
    message: str,
    *,
    method: Method = "POST",
    path: str = "/chat/stream",
    client: httpx.Client | None = None,
    timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
) -> Generator[Event, None, None]:
    """Ask the server at ``url`` and yield the run's events as they arrive (blocking).

    ``method="GET"`` uses the EventSource-style endpoint. Pass ``client`` to reuse
    connections; otherwise one is opened and closed for this stream. Raises
    ``StreamError`` when the server refuses the request (4xx) or the stream breaks off.
    """
    verb, target, kwargs = _request(url, message, method, path)
    own = client is None
    http = httpx.Client(timeout=timeout) if client is None else client
    try:
        with http.stream(verb, target, **kwargs) as response:
            if response.status_code != 200:
                response.read()
                raise _refused(response)
            for block in EventSource(response).iter_sse():
                if not block.data:
                    continue  # see _decode
                event, last = _decode(block)
                yield event
                if last:
                    return
            raise _truncated()
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
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``stream_events``; ``aclose()`` or cancel it to stop the run."""
    verb, target, kwargs = _request(url, message, method, path)
    own = client is None
    http = httpx.AsyncClient(timeout=timeout) if client is None else client
    try:
        async with http.stream(verb, target, **kwargs) as response:
            if response.status_code != 200:
                await response.aread()
                raise _refused(response)
            blocks = EventSource(response).aiter_sse()
            try:
                async for block in blocks:
                    if not block.data:
                        continue  # see _decode
                    event, last = _decode(block)
                    yield event
                    if last:
                        return
            finally:
                await blocks.aclose()
            raise _truncated()
    finally:
        if own:
            await http.aclose()
