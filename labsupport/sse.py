"""How one lab event travels as Server-Sent Events: the bytes on the wire.

Each event becomes one SSE block. ``event:`` names the type, so a browser can
``addEventListener("token", ...)``; ``data:`` carries the event's JSON; ``id:``
is ``<run_id>:<seq>``, unique across runs, so a client can tell where it is.
The framing itself comes from FastAPI's encoder, which splits any line break
in the data into separate ``data:`` lines; the lab's JSON never contains a raw
line break anyway, so a token cannot end an event early or forge a new one.

``LabEncoder`` writes a whole run in this format; ``WireEncoder`` is what
every dialect's encoder (this one, AG-UI's, the AI SDK's) looks like to a run.

Example:
    >>> encode_event(TokenEvent(run_id="run_demo", seq=7, text=" billing"))
    b'event: token\\ndata: {"type":"token","run_id":"run_demo","seq":7,"text":" billing"}\\nid: run_demo:7\\n\\n'
    >>> KEEPALIVE
    b': keep-alive\\n\\n'
    >>> parse_last_event_id("run_3f9a1c0b7d2e:12")
    ('run_3f9a1c0b7d2e', 12)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from fastapi.sse import format_sse_event

from .events import Event, from_json

__all__ = [
    "DONE",
    "KEEPALIVE",
    "MEDIA_TYPE",
    "STREAM_HEADERS",
    "LabEncoder",
    "WireEncoder",
    "decode_event",
    "encode_event",
    "event_id",
    "parse_last_event_id",
]

MEDIA_TYPE = "text/event-stream"

# A comment line: EventSource and httpx-sse skip it, proxies see traffic and keep the
# connection open while a slow tool runs.
KEEPALIVE: bytes = format_sse_event(comment="keep-alive")

# The block that ends an OpenAI Chat Completions stream, a convention the AI SDK's
# UI message stream kept: not an event, so it has no name and no id.
DONE: bytes = format_sse_event(data_str="[DONE]")

STREAM_HEADERS: dict[str, str] = {
    # An event stream is never the same twice; nothing on the way may serve a stored copy.
    "Cache-Control": "no-cache",
    # nginx (and proxies that copy its convention) would otherwise buffer the whole answer.
    "X-Accel-Buffering": "no",
}


_EVENT_ID = re.compile(r"(run_[0-9A-Za-z_-]{1,64}):(0|[1-9][0-9]{0,9})")


def event_id(event: Event) -> str:
    """The SSE ``id:`` of an event: ``run_3f9a1c0b7d2e:12`` is event 12 of that run."""
    return f"{event.run_id}:{event.seq}"


def encode_event(event: Event) -> bytes:
    """One lab event as one SSE block (``event:``, ``data:``, ``id:``, blank line)."""
    return format_sse_event(data_str=event.to_json(), event=event.type, id=event_id(event))


def decode_event(event_type: str, data: str, sse_id: str | None = None) -> Event:
    """Turn a received SSE block's fields back into the lab event it carried.

    Raises ``ValueError`` when the block's ``event:`` or ``id:`` disagree with the
    JSON inside, which means the stream was corrupted or is not a lab stream.
    """
    event = from_json(data)
    if event_type != event.type:
        raise ValueError(
            f"SSE event name {event_type!r} does not match the data's type {event.type!r}"
        )
    if sse_id and sse_id != event_id(event):
        raise ValueError(f"SSE id {sse_id!r} does not match the data's {event_id(event)!r}")
    return event


def parse_last_event_id(value: str) -> tuple[str, int]:
    """Split an SSE id such as ``run_3f9a1c0b7d2e:12`` into ``("run_3f9a1c0b7d2e", 12)``.

    Raises ``ValueError`` naming the value when it is not such an id.
    """
    match = _EVENT_ID.fullmatch(value.strip())
    if match is None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValueError(
            "Last-Event-ID must be a run id and a sequence number such as "
            f"'run_3f9a1c0b7d2e:12', got {shown!r}"
        )
    return match.group(1), int(match.group(2))


class WireEncoder(Protocol):
    """Turns one run's lab events into the bytes of a wire format (a "dialect").

    ``encode`` is called once per event, in order, and every run ends with
    exactly one ``done`` or ``error`` event: a crashing agent, a server shutdown
    or a cancel each become an ``error`` event first.
    """

    media_type: str
    headers: Mapping[str, str]

    def encode(self, event: Event) -> bytes: ...


class LabEncoder:
    """The lab's own dialect: one SSE block per event, ``id: <run_id>:<seq>``.

    With ``retry_ms`` the first block also sets the reconnection delay that
    ``EventSource`` waits before it reconnects (browsers default to seconds).
    """

    media_type = MEDIA_TYPE
    headers: Mapping[str, str] = {}

    def __init__(self, retry_ms: int | None = None) -> None:
        self._retry_ms = retry_ms

    def encode(self, event: Event) -> bytes:
        if self._retry_ms is None:
            return encode_event(event)
        retry, self._retry_ms = self._retry_ms, None
        return format_sse_event(
            data_str=event.to_json(), event=event.type, id=event_id(event), retry=retry
        )
