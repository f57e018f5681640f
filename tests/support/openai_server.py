"""One real uvicorn serving several mock Chat Completions endpoints, for the openai SDK tests.

Each endpoint is the same router over a differently tuned ``MockLLM``, mounted
under its own prefix, so one server per test module covers every case:

- ``/v1``          instant (no waits): most tests
- ``/paced/v1``    50 tokens/s, for stopping mid-answer
- ``/failing/v1``  fails after 5 answer tokens
- ``/unpriced/v1`` serves a model that no price table knows
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from openai import AsyncOpenAI, OpenAI

from labsupport.mockllm import MockLLM
from labsupport.openai_endpoint import CompletionStats, create_openai_router
from tests.support.uvicorn_thread import serve_in_thread

UNPRICED_MODEL = "acme-chat-1"

_PREFIXES = {"instant": "", "paced": "/paced", "failing": "/failing", "unpriced": "/unpriced"}


@dataclass
class Endpoint:
    """One mounted endpoint: its base URL (ending in ``/v1``), its model and its counters."""

    base_url: str
    llm: MockLLM
    stats: CompletionStats

    def client(self, **options: object) -> OpenAI:
        """A real SDK client for this endpoint; no retries, so a test sees the first answer."""
        return OpenAI(base_url=self.base_url, api_key="lab", max_retries=0, **options)  # type: ignore[arg-type]

    def async_client(self, **options: object) -> AsyncOpenAI:
        """The async twin of ``client``."""
        return AsyncOpenAI(base_url=self.base_url, api_key="lab", max_retries=0, **options)  # type: ignore[arg-type]

    def reset(self) -> None:
        """Zero the model's and the endpoint's counters."""
        self.llm.reset_counters()
        self.stats.reset()


@dataclass
class MockEndpoints:
    """The running server: ``url`` and the endpoints by name."""

    url: str
    endpoints: dict[str, Endpoint]
    authorizations: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Endpoint:
        return self.endpoints[name]


def _llms() -> dict[str, MockLLM]:
    return {
        "instant": MockLLM.instant(),
        "paced": MockLLM(ttft=0.0, tokens_per_second=50.0, tool_delay=0.0),
        "failing": MockLLM.instant(fail_after_tokens=5),
        "unpriced": MockLLM.instant(),
    }


@contextmanager
def serve_mock_endpoints() -> Iterator[MockEndpoints]:
    """Start the server; yields the endpoints; stops it afterwards."""
    app = FastAPI()
    llms = _llms()
    stats = {name: CompletionStats() for name in llms}
    authorizations: list[str] = []

    for name, prefix in _PREFIXES.items():
        models = [UNPRICED_MODEL] if name == "unpriced" else None
        router = create_openai_router(llms[name], models=models, stats=stats[name])
        app.include_router(router, prefix=prefix)

    async def remember_authorization(scope: Any, receive: Any, send: Any) -> None:
        # Plain ASGI, not BaseHTTPMiddleware, so streaming and disconnects pass through untouched.
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            authorizations.append(headers.get(b"authorization", b"").decode())
        await app(scope, receive, send)

    with serve_in_thread(remember_authorization) as url:
        endpoints = {
            name: Endpoint(f"{url}{prefix}/v1", llms[name], stats[name])
            for name, prefix in _PREFIXES.items()
        }
        yield MockEndpoints(url, endpoints, authorizations)
