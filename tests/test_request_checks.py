"""Request bodies are checked before anything streams; each refusal names what is wrong."""

from __future__ import annotations

import json
import re
import select
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from labsupport import MockLLM
from labsupport.request_checks import DEFAULT_MAX_BODY_BYTES, body_limit, check_message, problem
from labsupport.server import ServerSettings, create_app
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread


def detail(response: object) -> tuple[int, str]:
    status = response.status_code  # type: ignore[attr-defined]
    return status, json.loads(response.body)["detail"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (None, "the message is required"),
        (3, "the message must be a string, got a number"),
        ([], "the message must be a string, got an array"),
        (" ", "the message must not be empty"),
        ("abcd", "the message is 4 characters long; the limit is 3 characters"),
    ],
    ids=["missing", "number", "array", "blank", "too-long"],
)
def test_bad_messages_get_a_422_that_names_the_problem(message: object, expected: str) -> None:
    assert detail(check_message(message, "the message", 3)) == (422, expected)


def test_a_good_message_passes_through_unchanged() -> None:
    assert check_message("abc", "the message", 3) == "abc"


def test_problem_is_a_json_detail_with_the_status() -> None:
    assert detail(problem(415, "Content-Type must be application/json")) == (
        415,
        "Content-Type must be application/json",
    )


@pytest.fixture(scope="module")
def small_body_server() -> Iterator[tuple[str, int]]:
    """A real uvicorn whose JSON bodies may hold 1,000 bytes at most."""
    settings = ServerSettings(llm=MockLLM.instant(), max_body_bytes=1000)
    with serve_in_thread(create_app(settings, token=TEST_TOKEN)) as url:
        parts = urlsplit(url)
        yield parts.hostname or "127.0.0.1", parts.port or 80


def read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the HTTP/1.1 response on ``sock`` (the server closes it)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def post_head(host: str, port: int, framing: str) -> bytes:
    return (
        f"POST /chat/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\n"
        f"Content-Type: application/json\r\nConnection: close\r\n{framing}\r\n\r\n"
    ).encode()


def test_a_declared_content_length_over_the_limit_gets_413_before_any_body_is_sent(
    small_body_server: tuple[str, int],
) -> None:
    host, port = small_body_server
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(post_head(host, port, "Content-Length: 50000000"))  # and no body at all
        status, body = read_response(sock)
    assert status == 413
    assert body["detail"].startswith(
        "request body is larger than 1000 bytes (Content-Length: 50000000)"
    )
    assert "max_body_bytes" in body["detail"]


def test_a_chunked_body_over_the_limit_gets_413_and_is_not_read_to_its_end(
    small_body_server: tuple[str, int],
) -> None:
    host, port = small_body_server
    chunk = b'{"message": "' + b"x" * 500
    sent = 0
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(post_head(host, port, "Transfer-Encoding: chunked"))
        # An endless body: the server must answer without waiting for its end.
        sock.setblocking(False)
        answered = False
        while not answered and sent < 1_000_000:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass
            answered, _, _ = select.select([sock], [], [], 0.01)
        sock.setblocking(True)
        status, body = read_response(sock)
    assert status == 413
    assert re.match(
        r"request body is larger than 1000 bytes \(\d+ bytes read so far\)", body["detail"]
    )
    assert sent < 100_000  # refused long before the client stopped sending


def test_a_body_within_the_limit_still_streams(small_body_server: tuple[str, int]) -> None:
    host, port = small_body_server
    response = httpx.post(
        f"http://{host}:{port}/chat/stream", json={"message": "Who runs billing?"}, headers=AUTH
    )
    assert response.status_code == 200
    assert "\nevent: done\n" in response.text


@pytest.mark.parametrize(
    ("limit", "max_body_bytes", "expected"),
    [
        (10, DEFAULT_MAX_BODY_BYTES, 1144),
        (2000, 4096, 4096),
        (200_000, DEFAULT_MAX_BODY_BYTES, 1 << 20),
    ],
    ids=["from-message-limit", "capped", "default-cap"],
)
def test_body_limit_follows_the_message_limit_up_to_the_cap(
    limit: int, max_body_bytes: int, expected: int
) -> None:
    assert body_limit(limit, max_body_bytes) == expected
