"""An AI SDK chat request: the body ``useChat`` POSTs, read into the question and the encoder.

The question is the text of the last user message; a bad body is refused
naming the first thing wrong:

>>> parse_request({"id": "c1", "messages": [], "trigger": "submit-message"})
Traceback (most recent call last):
...
ValueError: field 'messages' must not be empty
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator
from pydantic_core import ErrorDetails

from .json_errors import error_path, json_type
from .vercel import VercelEncoder

__all__ = ["ChatRequest", "UIMessage", "UIMessagePart", "parse_request"]


class _Wire(BaseModel):
    # Strict: "1" is not a number and 1 is not a string. Unknown fields are ignored, since
    # useChat sends whatever the app adds (its ``body`` option) beside the chat itself.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class UIMessagePart(_Wire):
    """One part of a message; only ``text`` parts are read, the others are carried along."""

    type: StrictStr = Field(min_length=1)
    text: StrictStr | None = None

    @model_validator(mode="after")
    def _text_parts_have_text(self) -> UIMessagePart:
        if self.type == "text" and self.text is None:
            raise ValueError("a 'text' part needs a 'text' string")
        return self


class UIMessage(_Wire):
    """One message of the conversation, as ``useChat`` keeps it."""

    id: StrictStr
    role: Literal["system", "user", "assistant"]
    parts: list[UIMessagePart]
    metadata: Any = None

    def text(self) -> str:
        """The message's text parts, joined by newlines."""
        return "\n".join(p.text for p in self.parts if p.type == "text" and p.text is not None)


class ChatRequest(_Wire):
    """The body ``DefaultChatTransport`` POSTs: the chat's id, every message and why it sends."""

    id: StrictStr
    messages: list[UIMessage] = Field(min_length=1)
    trigger: Literal["submit-message", "regenerate-message"]
    messageId: StrictStr | None = None  # the protocol spells it so

    def question(self) -> str:
        """The text of the last user message; raises ``ValueError`` if there is none."""
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if message.role != "user":
                continue
            text = message.text()
            if not text.strip():
                raise ValueError(
                    f"messages[{index}], the last user message, has no text: "
                    'give it a part like {"type": "text", "text": "Who runs billing?"}'
                )
            return text
        raise ValueError("messages holds no message with role 'user': there is no question")


def _describe(error: ErrorDetails, payload: object) -> str:
    """One validation error as a sentence that names the field and what it got."""
    path = error_path(error, payload)
    where = f"field '{path}'" if path else "the body"
    if error["type"] == "missing":
        return f"{where} is required"
    if error["type"] == "too_short":
        return f"{where} must not be empty"
    reason = str(error["msg"]).removeprefix("Value error, ")
    reason = reason[:1].lower() + reason[1:]
    if error["type"] == "value_error":  # our own check: its message already says it all
        return f"{where}: {reason}"
    value = error.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        got = json.dumps(value)
        got = got if len(got) <= 40 else got[:37] + "..."
    else:
        got = json_type(value)
    return f"{where}: {reason}, got {got}"


def parse_request(payload: object) -> tuple[str, VercelEncoder]:
    """Check a decoded ``useChat`` body; return the question and the run's encoder.

    Raises ``ValueError`` naming the first thing wrong, for example
    ``field 'messages[0].role': input should be 'system', 'user' or 'assistant', got "bot"``.
    """
    if not isinstance(payload, dict):
        raise ValueError(
            'the body must be a JSON object like {"id": "...", "messages": [...], '
            f'"trigger": "submit-message"}}, got {json_type(payload)}'
        )
    try:
        request = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(_describe(exc.errors(include_url=False)[0], payload)) from None
    return request.question(), VercelEncoder()
