"""The lab's runs as a Vercel AI SDK "UI message stream" (v1): what ``useChat`` reads by default.

``useChat`` (through its ``DefaultChatTransport``) POSTs the whole conversation to
``/api/chat`` as JSON::

    {"id": "chat-1", "trigger": "submit-message",
     "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Who runs billing?"}]}]}

``parse_request`` checks that body and takes the question from the last user
message. The answer comes back as SSE: one ``data: {json}`` block per "chunk",
each chunk a small object with a ``type``, then a last ``data: [DONE]``. The
response carries the header ``x-vercel-ai-ui-message-stream: v1``, which tells
the client which protocol it is reading. ``VercelEncoder`` turns each lab event
into the chunks it means:

===============  ==============================================================  ========================
lab event        UI message chunks                                                becomes, in the message
===============  ==============================================================  ========================
(first event)    ``start`` {messageId, messageMetadata: {runId}}                  the assistant message
``status``       ``data-status`` {data: {message}, transient: true}               nothing kept: ``onData``
``thought``      ``reasoning-start``, ``reasoning-delta``, ``reasoning-end``      a ``reasoning`` part
``tool_call``    ``tool-input-start``, ``tool-input-available`` {input}           a ``tool-search_kb`` part
``tool_result``  ``tool-output-available`` {output: {sources}}                    the same part, with output
``citation``     ``source-document`` {sourceId: doc_id, title}                    a ``source-document`` part
``token``        ``text-start`` before the first, ``text-delta`` {delta} each     a ``text`` part
``cost``         ``message-metadata`` {messageMetadata: {cost}}                   ``message.metadata.cost``
``done``         ``text-end`` if open, ``finish`` {finishReason: "stop"}          the message is complete
``error``        ``text-end`` if open, ``error`` {errorText}, ``finish`` "error"  ``useChat``'s ``error``
``error``        (code ``cancelled``) ``abort`` {reason}                          a stopped message
(after the end)  ``data: [DONE]``                                                 the stream is over
===============  ==============================================================  ========================

A tool call still waiting for its result when the run ends gets a
``tool-output-error`` chunk, so no tool part is left spinning. Ids stay
consistent across chunks: one ``messageId`` per run, one ``id`` per text or
reasoning block (``text-start``, every ``text-delta`` and ``text-end`` share
it), and the lab's ``call_id`` as the ``toolCallId``.

Example:
    >>> encoder = VercelEncoder()
    >>> encoder.encode(StatusEvent(run_id="run_demo", seq=0, message="thinking"))
    b'data: {"type":"start","messageId":"msg_demo","messageMetadata":{"runId":"run_demo"}}\\n\\ndata: {"type":"data-status","data":{"message":"thinking"},"transient":true}\\n\\n'
    >>> encoder.encode(TokenEvent(run_id="run_demo", seq=1, text="Hi"))
    b'data: {"type":"text-start","id":"text_1"}\\n\\ndata: {"type":"text-delta","id":"text_1","delta":"Hi"}\\n\\n'
    >>> encoder.encode(DoneEvent(run_id="run_demo", seq=2))
    b'data: {"type":"text-end","id":"text_1"}\\n\\ndata: {"type":"finish","finishReason":"stop"}\\n\\ndata: [DONE]\\n\\n'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi.sse import format_sse_event

from .events import (
    CitationEvent,
    CostEvent,
    ErrorEvent,
    Event,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from .sse import DONE, MEDIA_TYPE, STREAM_HEADERS

__all__ = [
    "STREAM_HEADERS_V1",
    "VercelEncoder",
]

STREAM_HEADERS_V1: Mapping[str, str] = {
    **STREAM_HEADERS,
    # Without it a client cannot tell this protocol from a plain text stream.
    "x-vercel-ai-ui-message-stream": "v1",
}

Chunk = dict[str, Any]


# -- the response ----------------------------------------------------------------


def _frame(chunk: Chunk) -> bytes:
    # Compact JSON escapes every line break, so a token can never end a block early.
    return format_sse_event(data_str=json.dumps(chunk, ensure_ascii=False, separators=(",", ":")))


class VercelEncoder:
    """One run's lab events as UI message stream chunks; make a new one for every run.

    ``encode`` takes the events in order and returns the SSE bytes for each. The
    run must end with one ``done`` or ``error`` event; that call closes whatever
    is still open and ends the stream with ``data: [DONE]``.
    """

    media_type: str = MEDIA_TYPE
    headers: Mapping[str, str] = STREAM_HEADERS_V1

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._text_id: str | None = None
        self._open_tools: dict[str, str] = {}  # call_id -> tool name, until its result

    def encode(self, event: Event) -> bytes:
        """The SSE blocks for one lab event (several chunks, or none, per event)."""
        if self._ended:
            raise ValueError(f"the stream already ended; got a {event.type!r} event after it")
        chunks: list[Chunk] = []
        if not self._started:
            self._started = True
            chunks.append(self._start(event.run_id))
        chunks.extend(self._chunks(event))
        body = b"".join(_frame(chunk) for chunk in chunks)
        return body + DONE if self._ended else body

    @staticmethod
    def _start(run_id: str) -> Chunk:
        message_id = f"msg_{run_id.removeprefix('run_')}"
        return {"type": "start", "messageId": message_id, "messageMetadata": {"runId": run_id}}

    def _chunks(self, event: Event) -> list[Chunk]:
        if isinstance(event, TokenEvent):
            return self._token(event)
        if isinstance(event, StatusEvent):
            # Transient: the client hears it (useChat's onData) but does not keep it.
            return [{"type": "data-status", "data": {"message": event.message}, "transient": True}]
        if isinstance(event, ThoughtEvent):
            block = f"reasoning_{event.seq}"
            return [
                *self._close_text(),
                {"type": "reasoning-start", "id": block},
                {"type": "reasoning-delta", "id": block, "delta": event.text},
                {"type": "reasoning-end", "id": block},
            ]
        if isinstance(event, ToolCallEvent):
            return self._tool_call(event)
        if isinstance(event, ToolResultEvent):
            return self._tool_result(event)
        if isinstance(event, CitationEvent):
            source = {
                "type": "source-document",
                "sourceId": event.doc_id,
                "mediaType": "text/plain",
                "title": event.title,
            }
            return [*self._close_text(), source]
        if isinstance(event, CostEvent):
            # The AI SDK's own names for token usage, plus the price.
            cost = {
                "inputTokens": event.prompt_tokens,
                "outputTokens": event.completion_tokens,
                "totalTokens": event.total_tokens,
                "usd": event.usd,
            }
            return [{"type": "message-metadata", "messageMetadata": {"cost": cost}}]
        if isinstance(event, ErrorEvent):
            return self._end_with_error(event)
        return self._end([{"type": "finish", "finishReason": "stop"}])  # DoneEvent

    def _token(self, event: TokenEvent) -> list[Chunk]:
        chunks: list[Chunk] = []
        if self._text_id is None:
            self._text_id = f"text_{event.seq}"
            chunks.append({"type": "text-start", "id": self._text_id})
        chunks.append({"type": "text-delta", "id": self._text_id, "delta": event.text})
        return chunks

    def _close_text(self) -> list[Chunk]:
        # A new part after the answer began: end this text block so the order on screen holds.
        if self._text_id is None:
            return []
        chunk = {"type": "text-end", "id": self._text_id}
        self._text_id = None
        return [chunk]

    def _tool_call(self, event: ToolCallEvent) -> list[Chunk]:
        self._open_tools[event.call_id] = event.name
        ids = {"toolCallId": event.call_id, "toolName": event.name}
        return [
            *self._close_text(),
            {"type": "tool-input-start", **ids},
            {"type": "tool-input-available", **ids, "input": event.arguments},
        ]

    def _tool_result(self, event: ToolResultEvent) -> list[Chunk]:
        if self._open_tools.pop(event.call_id, None) is None:
            raise ValueError(
                f"tool_result for call {event.call_id!r}, which no earlier tool_call opened"
            )
        sources = [source.model_dump(mode="json") for source in event.sources]
        return [
            {
                "type": "tool-output-available",
                "toolCallId": event.call_id,
                "output": {"sources": sources},
            }
        ]

    def _end_with_error(self, event: ErrorEvent) -> list[Chunk]:
        if event.code == "cancelled":
            # What the AI SDK sends when a stream is stopped on purpose: no finish follows.
            return self._end([{"type": "abort", "reason": event.message}], tool_error="cancelled")
        error_text = f"{event.code}: {event.message}"
        return self._end(
            [
                {"type": "error", "errorText": error_text},
                {"type": "finish", "finishReason": "error"},
            ],
            tool_error=error_text,
        )

    def _end(self, last: list[Chunk], *, tool_error: str | None = None) -> list[Chunk]:
        self._ended = True
        reason = tool_error or "the run ended before the tool answered"
        unanswered: list[Chunk] = [
            {"type": "tool-output-error", "toolCallId": call_id, "errorText": reason}
            for call_id in self._open_tools
        ]
        self._open_tools.clear()
        return [*self._close_text(), *unanswered, *last]
