"""The bytes of a streamed Chat Completions response: ``chat.completion.chunk`` data lines.

A turn streams as a first chunk (the role, or the tool call's id and name), one
chunk per piece (text, or a slice of the tool call's JSON arguments), a chunk
with the ``finish_reason``, the usage if asked for, and ``data: [DONE]``.
A model failure mid-stream is one ``{"error": ...}`` data line instead.

>>> from openai.types.chat.chat_completion_chunk import ChoiceDelta
>>> ChunkBuilder("lab-mock").delta(ChoiceDelta(content="Hi")).startswith(b'data: {"id":"chatcmpl-')
True
>>> error_chunk(MockModelError("the model failed"))
b'data: {"error":{"message":"the model failed","type":"server_error","param":null,"code":"model_error"}}\\n\\n'
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.sse import format_sse_event
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)

from .mock_turn import FinishReason, TurnRun
from .mockllm import MockModelError
from .openai_wire import WireError

__all__ = ["ChunkBuilder", "error_chunk"]


class ChunkBuilder:
    """Builds the ``chat.completion.chunk`` objects of one streamed response."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def _chunk(self, choices: list[ChunkChoice], **extra: Any) -> bytes:
        chunk = ChatCompletionChunk(
            id=self.id,
            object="chat.completion.chunk",
            created=self.created,
            model=self.model,
            choices=choices,
            **extra,
        )
        return format_sse_event(data_str=chunk.model_dump_json(exclude_unset=True))

    def delta(self, delta: ChoiceDelta, finish_reason: FinishReason | None = None) -> bytes:
        return self._chunk([ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)])

    def first(self, run: TurnRun) -> bytes:
        if run.turn.kind == "answer":
            return self.delta(ChoiceDelta(role="assistant", content=""))
        assert run.turn.tool is not None
        call = ChoiceDeltaToolCall(
            index=0,
            id=run.call_id,
            type="function",
            function=ChoiceDeltaToolCallFunction(name=run.turn.tool.function.name, arguments=""),
        )
        return self.delta(ChoiceDelta(role="assistant", content=None, tool_calls=[call]))

    def piece(self, run: TurnRun, text: str) -> bytes:
        if run.turn.kind == "answer":
            return self.delta(ChoiceDelta(content=text))
        call = ChoiceDeltaToolCall(index=0, function=ChoiceDeltaToolCallFunction(arguments=text))
        return self.delta(ChoiceDelta(tool_calls=[call]))

    def usage(self, run: TurnRun) -> bytes:
        return self._chunk([], usage=run.usage())


def error_chunk(exc: Exception) -> bytes:
    """The ``{"error": ...}`` data line that ends a failed stream; the SDK raises it as ``APIError``."""
    if isinstance(exc, MockModelError):
        body = WireError(500, str(exc), type="server_error", code="model_error").body
    else:
        body = WireError(
            500, f"{type(exc).__name__}: {exc}", type="server_error", code="internal_error"
        ).body
    return format_sse_event(data_str=body.model_dump_json())
