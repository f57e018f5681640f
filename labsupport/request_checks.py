"""The checks a request body passes before anything streams, and the 4xx that says why not.

Every refusal is a JSON body ``{"detail": "..."}`` that names the bad value,
so a student reading the response knows what to fix:

>>> check_message("  ", "the message", 2000).body
b'{"detail":"the message must not be empty"}'
"""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse

from .json_errors import json_type

__all__ = ["check_message", "problem", "read_json", "read_json_message"]

# A JSON body holding the longest allowed message, escaped, fits in this many bytes per char.
_BYTES_PER_CHAR = 12


def problem(status: int, detail: str) -> JSONResponse:
    """The 4xx (or 5xx) answer whose ``detail`` says what is wrong."""
    return JSONResponse({"detail": detail}, status_code=status)


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


async def read_json(request: Request, limit: int) -> object | JSONResponse:
    """The request's JSON body, or the 4xx response that says why it cannot be read."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        got = repr(media_type) if media_type else "no Content-Type"
        return problem(415, f"Content-Type must be application/json, got {got}")
    max_bytes = limit * _BYTES_PER_CHAR + 1024
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return problem(413, f"request body is larger than {max_bytes} bytes")
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


async def read_json_message(request: Request, limit: int) -> str | JSONResponse:
    """The ``message`` of a ``{"message": "..."}`` body, or the 4xx that says what is wrong."""
    payload = await read_json(request, limit)
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
