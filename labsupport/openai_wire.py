"""The Chat Completions request, and the error body, as the openai SDK sends and expects them.

Only what the lab's mock endpoint reads is declared; any other parameter a
client sends (``temperature``, ``seed``, ``user``, ...) is accepted and ignored,
as a provider ignores what a model does not support. Responses reuse the
models the ``openai`` package ships (``ChatCompletion``, ``ChatCompletionChunk``).

Errors keep OpenAI's shape, which is what makes the SDK raise the right class
(``BadRequestError`` for 400, ``NotFoundError`` for 404, ...)::

    {"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": null}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .json_errors import error_path

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "ErrorBody",
    "ErrorResponse",
    "FunctionDef",
    "MessageToolCall",
    "NamedToolChoice",
    "ToolDef",
    "WireError",
    "error_from_validation",
]

_FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class _Wire(BaseModel):
    # Unknown parameters are accepted and ignored, as OpenAI-compatible servers do.
    model_config = ConfigDict(extra="allow")


class ContentPart(_Wire):
    """One part of a multi-part message; only text parts are read."""

    type: str
    text: str | None = None


class FunctionCall(_Wire):
    """The function an assistant message called, with its JSON-encoded arguments."""

    name: str
    arguments: str


class MessageToolCall(_Wire):
    """A tool call recorded in an earlier assistant message."""

    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Wire):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _check_role_fields(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a 'tool' message needs the 'tool_call_id' it answers")
        if self.role in ("system", "developer", "user") and self.content is None:
            raise ValueError(f"a '{self.role}' message needs 'content'")
        return self

    def text(self) -> str:
        """The message's text: the content, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class FunctionDef(_Wire):
    """A function the model may call: name, description and JSON Schema of its parameters."""

    name: str = Field(pattern=_FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDef(_Wire):
    """A tool offered to the model; Chat Completions only knows function tools."""

    type: Literal["function"]
    function: FunctionDef


class _FunctionName(_Wire):
    name: str = Field(pattern=_FUNCTION_NAME)


class NamedToolChoice(_Wire):
    """``tool_choice`` that forces one function."""

    type: Literal["function"]
    function: _FunctionName


class StreamOptions(_Wire):
    """``include_usage`` asks for a last chunk that carries the token counts."""

    include_usage: bool = False


class ChatCompletionRequest(_Wire):
    """The body of ``POST /v1/chat/completions``."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDef] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    n: int = Field(default=1, ge=1, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)

    @property
    def token_limit(self) -> int | None:
        """The answer's token budget, from either spelling of the parameter."""
        return self.max_completion_tokens or self.max_tokens


class ErrorBody(BaseModel):
    """What went wrong: a readable message, its kind, the parameter at fault and a code."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The JSON body of every error response, and of an error sent mid-stream."""

    error: ErrorBody


class WireError(Exception):
    """A request the endpoint refuses; becomes an ``ErrorResponse`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorResponse(
            error=ErrorBody(message=message, type=type, param=param, code=code)
        )


def error_from_validation(exc: ValidationError, payload: object) -> WireError:
    """A 400 naming the first bad parameter, worded like OpenAI's own messages."""
    first = exc.errors(include_url=False)[0]
    param = error_path(first, payload) or None
    if first["type"] == "missing":
        message = f"Missing required parameter: '{param}'."
        return WireError(400, message, param=param, code="missing_required_parameter")
    reason = str(first["msg"]).removeprefix("Value error, ")
    message = f"Invalid value for '{param}': {reason}." if param else f"{reason}."
    return WireError(400, message, param=param, code="invalid_value")
