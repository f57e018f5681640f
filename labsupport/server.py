"""The lab's HTTP server: the agent's events as Server-Sent Events, a page, and live counters.

Start it from a terminal with ``uvicorn labsupport.server:app``, or from a notebook
with ``labsupport.kernel_server.start_server()``. Endpoints:

- ``POST /chat/stream`` with JSON ``{"message": "..."}``: the run's events as ``text/event-stream``
- ``GET /chat/stream?message=...``: the same, for the browser's ``EventSource`` (GET only)
- ``POST /runs/{run_id}/cancel``: stop a run now; its stream ends with an ``error`` event
- ``POST /ag-ui`` and ``POST /api/chat``: the same runs as AG-UI events and as an
  AI SDK UI message stream, for stock clients of those protocols
- ``GET /v1/models`` and ``POST /v1/chat/completions``: the same mock model behind an
  OpenAI-compatible API, for the unmodified openai SDK
- ``GET /stats``: counters that show runs starting, ending, dropping, resuming and
  what they spent
- ``GET /``: a page that asks a question and renders the stream

Bad requests are refused before anything streams, with a 4xx JSON body whose
``detail`` says what is wrong. Once streaming, a failure becomes an ``error``
event and the stream ends cleanly. A client that goes away stops the run: the
agent's generator is closed, the model stops generating, and ``/stats`` shows it.
With ``ServerSettings(resumable=True)`` the run waits a little instead, and a
reconnection that sends ``Last-Event-ID`` (as ``EventSource`` does by itself)
continues it right after the last event the client got.

Try it:
    curl -N -X POST localhost:8000/chat/stream -H 'Content-Type: application/json' \\
         -d '{"message": "Who runs billing?"}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .agent_api import Agent, MockAgent
from .agent_args import MAX_QUESTION_CHARS
from .host_guard import HostGuard, host_name
from .live_run import RunLimits
from .mockllm import MockLLM
from .openai_endpoint import create_openai_router
from .request_checks import DEFAULT_MAX_BODY_BYTES, check_message, read_json_message
from .run_registry import DEFAULT_MAX_ACTIVE_RUNS
from .run_requests import DialectParser, Lab, cancel, dialect_endpoint, stream
from .run_store import check_store_url, open_run_store
from .sse import MEDIA_TYPE

__all__ = [
    "DEFAULT_CORS_ORIGINS",
    "STATS_FIELDS",
    "ServerSettings",
    "app",
    "create_app",
    "stream_closer",
]

# JupyterLab's usual address; the page itself is same-origin and needs no CORS at all.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = ("http://127.0.0.1:8888", "http://localhost:8888")

STATS_FIELDS: tuple[str, ...] = (
    "active_streams",
    "runs_started",
    "runs_completed",
    "runs_cancelled",
    "runs_failed",
    "tokens_generated",
    "cost_usd",
    # Dropped connections versus cancelled runs (lesson 7):
    "streams_dropped",
    "runs_parked",
    "runs_resumed",
    "runs_expired",
    "cancel_requests",
    # The cap on active runs (lesson 7's load step):
    "active_runs",
    "runs_refused",
)


class ServerSettings(BaseModel):
    """How the server behaves; every field has a lesson-friendly default.

    The pacing knobs (``ttft``, ``tokens_per_second``, ``tool_delay``,
    ``fail_after_tokens``, ``model``) build the default agent's ``MockLLM``; pass
    ``llm`` to use a mock of your own instead. To serve another agent, pass it to
    ``create_app(agent=...)``: these knobs then do not apply.

    Resuming (``resumable=True``): a run outlives its connection for
    ``resume_grace_seconds``; a client that reconnects with ``Last-Event-ID``
    gets the missed events (the last ``replay_events`` are kept, for
    ``replay_seconds`` after the run ends) and then the rest live.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str = "lab-mock-1"
    ttft: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    # Slow enough that a reader sees the answer arrive token by token.
    tokens_per_second: float | None = Field(default=20.0, gt=0, allow_inf_nan=False)
    tool_delay: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    fail_after_tokens: int | None = Field(default=None, ge=0)
    llm: MockLLM | None = None
    k: int = Field(default=3, ge=1, le=10)
    keepalive_seconds: float = Field(default=15.0, gt=0, allow_inf_nan=False)
    max_message_chars: int = Field(default=MAX_QUESTION_CHARS, ge=1)
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    # Host names served besides 127.0.0.1, localhost and [::1] (any port); others get 403.
    allowed_hosts: tuple[str, ...] = ()
    # Off: a client that disconnects stops its run at once (nobody pays for an unread answer).
    # On: the run waits ``resume_grace_seconds`` for a reconnection with Last-Event-ID.
    resumable: bool = False
    resume_grace_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    replay_events: int = Field(default=10_000, ge=1)
    replay_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    # Runs active at once (running or parked); one more gets 429 with Retry-After.
    max_active_runs: int = Field(default=DEFAULT_MAX_ACTIVE_RUNS, ge=1)
    # A larger JSON body gets 413 before it is read whole.
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    # Where runs are kept: "memory" (this process) or a Redis URL shared by several workers.
    run_store: str = "memory"

    @field_validator("run_store")
    @classmethod
    def _known_store(cls, run_store: str) -> str:
        return check_store_url(run_store)

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            parts = urlsplit(origin)
            if origin == "*" or parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"cors_origins must list explicit origins such as 'http://127.0.0.1:8888', "
                    f"got {origin!r}"
                )
            if parts.path or parts.query or parts.fragment:
                raise ValueError(f"an origin has no path, query or fragment, got {origin!r}")
        return origins

    @field_validator("allowed_hosts")
    @classmethod
    def _plain_host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if not host or host != host_name(host) or any(c in host for c in "/*@ "):
                raise ValueError(
                    f"allowed_hosts must list lower-case host names without scheme, port or "
                    f"wildcard, such as 'lab.example.org', got {host!r}"
                )
        return hosts

    def build_llm(self) -> MockLLM:
        """The model the server's agent uses: ``llm`` if given, else a paced ``MockLLM``."""
        if self.llm is not None:
            return self.llm
        return MockLLM(
            model=self.model,
            ttft=self.ttft,
            tokens_per_second=self.tokens_per_second,
            tool_delay=self.tool_delay,
            fail_after_tokens=self.fail_after_tokens,
        )


_CHAT_REQUEST_SCHEMA: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"message": {"type": "string", "minLength": 1}},
                "required": ["message"],
                "additionalProperties": False,
            },
            "example": {"message": "Who runs billing?"},
        }
    },
}
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The run's events, one SSE block each.", "content": {MEDIA_TYPE: {}}},
    422: {"description": "The message is missing, empty, too long or not a string."},
}


def create_app(
    settings: ServerSettings | None = None,
    *,
    agent: Agent | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the lab's FastAPI app serving ``agent``; ``routers`` adds endpoints of your own.

    ``agent`` is any ``labsupport.agent_api.Agent`` (default: the mock, paced by
    ``settings``). A mock agent's model also answers the OpenAI-compatible ``/v1``.

    Example: ``create_app(ServerSettings(tokens_per_second=None, keepalive_seconds=1.0))``
    """
    settings = settings or ServerSettings()
    if not isinstance(settings, ServerSettings):
        raise TypeError(f"settings must be a ServerSettings, got {type(settings).__name__}")
    agent = agent if agent is not None else MockAgent(settings.build_llm())
    if not isinstance(agent, Agent):
        raise TypeError(
            f"agent must have stream(question, *, k, run_id) and spend(), got {type(agent).__name__}"
        )
    lab = _lab(settings, agent)
    app = FastAPI(
        lifespan=_store_lifespan(lab),
        title="labsupport streaming server",
        summary="The lab agent's events as Server-Sent Events.",
        version="0.1.0",
    )
    app.state.lab = lab
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Accept", "Last-Event-ID"],
        expose_headers=["X-Run-ID"],
        allow_credentials=False,
    )
    # Outermost, so a rebound Host or a cross-site request is refused before CORS or a route.
    app.add_middleware(
        HostGuard, allowed_hosts=settings.allowed_hosts, cors_origins=settings.cors_origins
    )
    _add_lab_routes(app, lab)
    _add_dialects(app, lab)
    if isinstance(agent, MockAgent):
        # The OpenAI-compatible API shares the mock, so /stats counts what the SDK's requests cost.
        app.include_router(create_openai_router(agent.llm))
    for router in routers:
        if not isinstance(router, APIRouter):
            raise TypeError(
                f"routers must hold fastapi.APIRouter objects, got {type(router).__name__}"
            )
        app.include_router(router)
    return app


def _add_lab_routes(app: FastAPI, lab: Lab) -> None:
    """The lab's own endpoints: the stream (POST and GET), cancel, stats and the page."""
    limit = lab.max_message_chars
    page = resources.files("labsupport").joinpath("static/index.html").read_text("utf-8")

    @app.post(
        "/chat/stream",
        openapi_extra={"requestBody": _CHAT_REQUEST_SCHEMA},
        responses=_STREAM_RESPONSES,
        response_class=Response,
    )
    async def chat_stream_post(request: Request) -> Response:
        """Answer ``message``, streaming the run's events as SSE."""
        message = await read_json_message(request, limit, max_body_bytes=lab.max_body_bytes)
        return message if isinstance(message, Response) else stream(lab, request, message)

    @app.get("/chat/stream", responses=_STREAM_RESPONSES, response_class=Response)
    async def chat_stream_get(request: Request) -> Response:
        """The same stream for ``EventSource``, which can only GET: ``?message=...``."""
        query = request.query_params.get("message")
        message = check_message(query, "query parameter 'message'", limit)
        return message if isinstance(message, Response) else stream(lab, request, message)

    @app.post("/runs/{run_id}/cancel")
    async def cancel_run(run_id: str) -> JSONResponse:
        """Stop a run now, whether a client is reading it or not; its stream ends with an error."""
        return await cancel(lab, run_id)

    @app.get("/stats")
    async def stats() -> dict[str, int | float]:
        """Streams open now, runs by outcome, and what the agent generated and spent."""
        return lab.stats()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        """The browser page: ask, watch the steps and the answer stream, stop."""
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


def _lab(settings: ServerSettings, agent: Agent) -> Lab:
    limits = RunLimits(grace=settings.resume_grace_seconds, replay_events=settings.replay_events)
    return Lab(
        agent=agent,
        runs=open_run_store(
            settings.run_store,
            limits,
            replay_seconds=settings.replay_seconds,
            max_active_runs=settings.max_active_runs,
        ),
        k=settings.k,
        resumable=settings.resumable,
        keepalive_seconds=settings.keepalive_seconds,
        max_message_chars=settings.max_message_chars,
        max_body_bytes=settings.max_body_bytes,
    )


def _store_lifespan(lab: Lab) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Connect the run store when the server starts (a bad URL fails here) and close it at exit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await lab.runs.open()
        try:
            yield
        finally:
            await lab.runs.aclose()

    return lifespan


def _add_dialects(app: FastAPI, lab: Lab) -> None:
    """The same runs in standard shapes, so stock AG-UI and AI SDK clients connect."""
    from . import agui_request, vercel_request  # the protocol libraries load only with the app

    dialects: list[tuple[str, DialectParser, str, str]] = [
        (
            "/ag-ui",
            agui_request.parse_request,
            "AG-UI RunAgentInput",
            "AG-UI events (RunAgentInput in)",
        ),
        (
            "/api/chat",
            vercel_request.parse_request,
            "AI SDK chat",
            "an AI SDK UI message stream (useChat)",
        ),
    ]
    for path, parse, name, shape in dialects:
        app.add_api_route(
            path,
            dialect_endpoint(lab, parse, name),
            methods=["POST"],
            response_class=Response,
            summary=f"Run the agent, streaming {shape}",
        )


def stream_closer(app: object) -> Callable[[], None] | None:
    """The function that ends an app's open streams cleanly, if the app is one of ours.

    Call what it returns on the server's event loop, just before shutting down:
    each open stream gets an ``error`` event (``server_shutdown``) and ends.
    """
    state = getattr(app, "state", None)
    lab = getattr(state, "lab", None)
    return lab.close_streams if isinstance(lab, Lab) else None


app = create_app()
"""The app with default settings: ``uvicorn labsupport.server:app``."""
