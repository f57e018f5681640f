"""How one lab event travels as Server-Sent Events: the bytes on the wire.

Each event becomes one SSE block. ``event:`` names the type, so a browser can
``addEventListener("token", ...)``; ``data:`` carries the event's JSON; ``id:``
is ``<run_id>:<seq>``, unique across runs, so a client can tell where it is.
The framing itself comes from FastAPI's encoder, which splits any line break
in the data into separate ``data:`` lines; the lab's JSON never contains a raw
line break anyway, so a token cannot end an event early or forge a new one.

Example:
    >>> encode_event(TokenEvent(run_id="run_demo", seq=7, text=" billing"))
    b'event: token\\ndata: {"type":"token","run_id":"run_demo","seq":7,"text":" billing"}\\nid: run_demo:7\\n\\n'
    >>> KEEPALIVE
    b': keep-alive\\n\\n'
"""

from __future__ import annotations

from fastapi.sse import format_sse_event

from .events import Event, from_json

__all__ = ["KEEPALIVE", "MEDIA_TYPE", "STREAM_HEADERS", "decode_event", "encode_event", "event_id"]

MEDIA_TYPE = "text/event-stream"

# A comment line: EventSource and httpx-sse skip it, proxies see traffic and keep the
# connection open while a slow tool runs.
KEEPALIVE: bytes = format_sse_event(comment="keep-alive")

STREAM_HEADERS: dict[str, str] = {
    # An event stream is never the same twice; nothing on the way may serve a stored copy.
    "Cache-Control": "no-cache",
    # nginx (and proxies that copy its convention) would otherwise buffer the whole answer.
    "X-Accel-Buffering": "no",
}


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
