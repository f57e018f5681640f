"""The checks a request body passes before anything streams, and the 4xx that says why not.

Every refusal is a JSON body ``{"detail": "..."}`` that names the bad value,
so a student reading the response knows what to fix:

>>> check_message("  ", "the message", 2000).body
b'{"detail":"the message must not be empty"}'

A body is refused with 413 before it is read whole: up front when its
``Content-Length`` is too large, otherwise as soon as the chunks read so far are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import JSONResponse

from .json_errors import json_type

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "body_limit",
    "check_message",
    "problem",
    "read_json",
    "read_json_message",
]

# The most any JSON body may hold, whatever the message limit: a long AG-UI or AI SDK
# conversation fits, and a runaway upload is refused before it fills memory.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

# A JSON body holding the longest allowed message, escaped, fits in this many bytes per char.
_BYTES_PER_CHAR = 12


def problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The 4xx (or 5xx) answer whose ``detail`` says what is wrong."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def check_message(message: object, where: str, limit: int) -> str | JSONResponse:
    """``message`` if it is a non-blank string of at most ``limit`` chars, else a 422."""
    if message is None:
        return problem(422, f"{where} is required")
    if not isinstance(message, str):
        return problem(422, f"{where} must be a string, got {json_type(message)}")
    if not message.strip():
        return problem(422, f"{where} must not be empty")
    if len(message) > limit:
        return problem(
            422, f"{where} is {len(message)} characters long; the limit is {limit} characters"
        )
    return message


def body_limit(limit: int, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> int:
    """The most bytes a JSON body holding ``limit`` chars may take, at most ``max_body_bytes``.

    Example: body_limit(10) -> 1144, body_limit(2000, max_body_bytes=4096) -> 4096
    """
    return min(limit * _BYTES_PER_CHAR + 1024, max_body_bytes)


def _too_large(max_bytes: int, size: str) -> JSONResponse:
    return problem(
        413,
        f"request body is larger than {max_bytes} bytes ({size}); send a shorter message, or "
        f"raise ServerSettings(max_message_chars=..., max_body_bytes=...)",
    )


async def read_json(
    request: Request, limit: int, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> object | JSONResponse:
    """The request's JSON body, or the 4xx response that says why it cannot be read.

    ``limit`` is the longest message in chars; the body may take ``body_limit`` bytes.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        got = repr(media_type) if media_type else "no Content-Type"
        return problem(415, f"Content-Type must be application/json, got {got}")
    max_bytes = body_limit(limit, max_body_bytes)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            return problem(400, f"Content-Length must be a number of bytes, got {declared!r}")
        if int(declared) > max_bytes:
            return _too_large(max_bytes, f"Content-Length: {int(declared)}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:  # a chunked body has no Content-Length: stop reading here
            return _too_large(max_bytes, f"{len(body)} bytes read so far")
    try:
        payload = json.loads(bytes(body))
    except json.JSONDecodeError as exc:
        return problem(
            400,
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )
    except UnicodeDecodeError:
        return problem(400, "request body is not valid JSON: it is not UTF-8 text")
    parsed: object = payload
    return parsed


async def read_json_message(
    request: Request, limit: int, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> str | JSONResponse:
    """The ``message`` of a ``{"message": "..."}`` body, or the 4xx that says what is wrong."""
    payload = await read_json(request, limit, max_body_bytes=max_body_bytes)
    if isinstance(payload, JSONResponse):
        return payload
    if not isinstance(payload, dict):
        return problem(
            422,
            f'request body must be a JSON object like {{"message": "..."}}, got {json_type(payload)}',
        )
    unexpected = sorted(set(payload) - {"message"})
    if unexpected:
        return problem(422, f"unexpected field {unexpected[0]!r}; the only field is 'message'")
    return check_message(payload.get("message"), "field 'message'", limit)
