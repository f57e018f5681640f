"""Lesson 05's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM
from labsupport.checks import lesson05
from labsupport.client import stream_events
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.server import ServerSettings, create_app


def good_format_sse(data: str, event: str | None = None, id: str | None = None) -> bytes:
    lines = [f"event: {event}"] if event is not None else []
    lines += [
        f"data: {line}" for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    lines += [f"id: {id}"] if id is not None else []
    return ("\n".join(lines) + "\n\n").encode()


def naive_format_sse(data: str, event: str | None = None, id: str | None = None) -> bytes:
    head = f"event: {event}\n" if event is not None else ""
    tail = f"id: {id}\n" if id is not None else ""
    return f"{head}data: {data}\n{tail}\n".encode()


def test_format_sse_check_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson05.format_sse(good_format_sse)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (naive_format_sse, "every line of the data gets its own 'data: ' prefix"),
        (lambda data, event=None, id=None: None, "return the encoded block"),
        (lambda data, event=None, id=None: f"data: {data}\n\n", "finish with .encode('utf-8')"),
        (lambda data, event=None, id=None: 1 / 0, "build a list of lines"),
    ],
    ids=["one-data-line", "returns-none", "returns-str", "raises"],
)
def test_format_sse_check_hints_at_the_mistake(
    func: Any, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson05.format_sse(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert hint in out


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    llm = MockLLM(ttft=0.0, tokens_per_second=40, tool_delay=0.0)
    with start_server(create_app(ServerSettings(llm=llm)), name="test_checks_lesson05") as handle:
        yield handle


def good_first_tokens(url: str, question: str, n: int) -> str:
    parts: list[str] = []
    for event in stream_events(url, question):
        if event.type == "token":
            parts.append(event.text)
            if len(parts) == n:
                break
    return "".join(parts)


def greedy_first_tokens(url: str, question: str, n: int) -> str:
    texts = [e.text for e in stream_events(url, question) if e.type == "token"]
    return "".join(texts[:n])


@pytest.mark.slow
def test_first_tokens_check_passes_an_early_exit(
    server: ServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lesson05.first_tokens(good_first_tokens, server.url)
    assert "/stats shows the run cancelled" in capsys.readouterr().out


@pytest.mark.slow
def test_first_tokens_check_catches_reading_the_whole_stream(
    server: ServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson05.first_tokens(greedy_first_tokens, server.url)
    assert "you read the whole stream" in capsys.readouterr().out
