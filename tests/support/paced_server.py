"""A lab server paced so that a proxy's buffering is unmistakable, and how long its stream lasts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from labsupport import MockLLM
from labsupport.server import ServerSettings, create_app
from tests.support.secret import TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

QUESTION = "Who runs billing?"
# ~0.2 s before the first token, then 30 tokens at 20/s: a stream of about 1.7 s.
STREAM_SECONDS = 1.7


@contextmanager
def paced_server() -> Iterator[str]:
    """Serve the paced lab server on loopback (secret: ``TEST_TOKEN``); yields its base URL."""
    llm = MockLLM(ttft=0.2, tokens_per_second=20, tool_delay=0.1)
    with serve_in_thread(create_app(ServerSettings(llm=llm), token=TEST_TOKEN)) as url:
        yield url
