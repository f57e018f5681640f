"""One call of the lab's clients without its I/O, so the sync and async clients share it.

``StreamCall`` checks the arguments, builds each request (with the server's secret
as ``Authorization: Bearer``), reads blocks into events (``Progress``), decides
whether a broken stream is resumed and which run to cancel when the consumer
leaves; ``labsupport.client`` only drives httpx, as openai-python's ``Stream`` and
``AsyncStream`` share their decoder.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import httpx
from httpx_sse import ServerSentEvent

from .events import TERMINAL_TYPES, Event
from .lab_url import auth_headers, resolve_token
from .sse import MEDIA_TYPE, decode_event, event_id

__all__ = [
    "Method",
    "Progress",
    "StreamCall",
    "StreamError",
    "cancel_result",
    "refused",
    "truncated",
]

Method = Literal["GET", "POST"]


class StreamError(RuntimeError):
    """The server refused the request (``status_code``, ``detail``) or the stream broke off."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class Progress:
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


def truncated() -> StreamError:
    """The error for a stream that ended before its ``done`` or ``error`` event."""
    return StreamError("the stream ended before a done or error event")


def refused(response: httpx.Response) -> StreamError:
    """The error for a refused request, with its status and the server's ``detail``."""
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text
    return StreamError(
        f"the server refused the request ({response.status_code}): {detail}",
        status_code=response.status_code,
        detail=detail,
    )


class StreamCall:
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
        self.progress = Progress(last_event_id)

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
                raise truncated()
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


def cancel_result(response: httpx.Response) -> dict[str, Any]:
    """The body of a cancel's answer; ``StreamError`` if it was refused."""
    if response.status_code != 200:
        raise refused(response)
    result: dict[str, Any] = response.json()
    return result
