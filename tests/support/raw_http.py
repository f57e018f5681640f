"""A bare HTTP/1.1 client on asyncio streams, for bursts of many requests.

httpx spends milliseconds of CPU per request once a pool holds a hundred connections,
so a test that fires a thousand requests measures its own client. This one opens a
connection per request, sends ``Connection: close`` and reads to the end: nothing
is pooled, so no idle connection can be closed by the server under a request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def post_json(
    url: str, payload: Any, headers: Mapping[str, str] | None = None
) -> RawResponse:
    """POST ``payload`` as JSON to ``url`` (``http://host:port/path``) and read the whole answer."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    body = json.dumps(payload).encode()
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        + "Connection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    return _parse(raw)


def _parse(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return RawResponse(int(status_line.split()[1]), headers, body)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size + 2 :]
