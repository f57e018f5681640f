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

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.sse import format_sse_event
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.types import Receive, Scope, Send

from .agent_api import Agent, MockAgent
from .agent_args import MAX_QUESTION_CHARS
from .events import Event
from .json_errors import json_type
from .mockllm import MockLLM
from .numbering import new_run_id
from .openai_compat import create_openai_router
from .runs import ResumeError, Run, RunRegistry, WireEncoder, parse_last_event_id
from .sse import KEEPALIVE, MEDIA_TYPE, STREAM_HEADERS, encode_event, event_id

__all__ = [
    "DEFAULT_CORS_ORIGINS",
    "STATS_FIELDS",
    "DialectParser",
    "LabEncoder",
    "ServerSettings",
    "WireEncoder",
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
)

# How long EventSource waits before reconnecting to a resumable stream.
_RECONNECT_MS = 1000

# A JSON body holding the longest allowed message, escaped, fits in this many bytes per char.
_BYTES_PER_CHAR = 12


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
    # Off: a client that disconnects stops its run at once (nobody pays for an unread answer).
    # On: the run waits ``resume_grace_seconds`` for a reconnection with Last-Event-ID.
    resumable: bool = False
    resume_grace_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    replay_events: int = Field(default=10_000, ge=1)
    replay_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)

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


class LabEncoder:
    """The lab's own dialect: one SSE block per event, ``id: <run_id>:<seq>``.

    With ``retry_ms`` the first block also sets the reconnection delay that
    ``EventSource`` waits before it reconnects (browsers default to seconds).
    """

    media_type = MEDIA_TYPE
    headers: Mapping[str, str] = {}

    def __init__(self, retry_ms: int | None = None) -> None:
        self._retry_ms = retry_ms

    def encode(self, event: Event) -> bytes:
        if self._retry_ms is None:
            return encode_event(event)
        retry, self._retry_ms = self._retry_ms, None
        return format_sse_event(
            data_str=event.to_json(), event=event.type, id=event_id(event), retry=retry
        )


DialectParser = Callable[[object], "tuple[str, WireEncoder]"]
"""Reads a dialect's request body: returns the question and the run's encoder, or raises ValueError."""


class _Lab:
    """What one app instance shares between requests: settings, agent, runs and counters."""

    def __init__(self, settings: ServerSettings, agent: Agent) -> None:
        self.settings = settings
        self.agent = agent
        self.runs = RunRegistry(
            grace=settings.resume_grace_seconds,
            replay_events=settings.replay_events,
            replay_seconds=settings.replay_seconds,
        )

    def stats(self) -> dict[str, int | float]:
        counters = self.runs.counters
        spend = self.agent.spend()
        return {
            "active_streams": counters.active_streams,
            "runs_started": counters.runs_started,
            "runs_completed": counters.runs_completed,
            "runs_cancelled": counters.runs_cancelled,
            "runs_failed": counters.runs_failed,
            "tokens_generated": spend.tokens_generated,
            "cost_usd": round(spend.cost_usd, 8),
            "streams_dropped": counters.streams_dropped,
            "runs_parked": counters.runs_parked,
            "runs_resumed": counters.runs_resumed,
            "runs_expired": counters.runs_expired,
            "cancel_requests": counters.cancel_requests,
        }

    def close_streams(self) -> None:
        """End every run with an ``error`` event (``server_shutdown``); call on the server's loop."""
        for run in self.runs.running():
            self.runs.spawn(run.cancel("server_shutdown", "the server is shutting down"))


class _RunStream(Response):
    """One connection reading one run as a stream, from ``cursor`` on.

    The run itself (the agent, its buffer) lives in ``labsupport.runs``; this
    response only writes it out, sends keep-alives while the run is silent, and
    tells the run when its client goes away.
    """

    def __init__(self, lab: _Lab, run: Run, cursor: int, *, resumed: bool = False) -> None:
        self._lab = lab
        self._run = run
        self._cursor = cursor
        self._resumed = resumed
        self.status_code = 200
        self.media_type = run.encoder.media_type
        self.background = None
        self.init_headers({**STREAM_HEADERS, **run.encoder.headers, "X-Run-ID": run.run_id})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lab, run = self._lab, self._run
        counters = lab.runs.counters
        reader = run.attach(self._cursor)
        if self._resumed:
            counters.runs_resumed += 1
        counters.active_streams += 1
        finished = False

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            reader.gone = True
            reader.notify()

        async def write(body: bytes) -> None:
            try:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            except OSError:  # the client is gone; uvicorn raises on some paths
                reader.gone = True

        watcher = asyncio.get_running_loop().create_task(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            finished = await run.pump(reader, write, KEEPALIVE, lab.settings.keepalive_seconds)
            if not reader.gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            counters.active_streams -= 1
            # Shielded: a cancelled request still closes the agent or parks the run.
            await asyncio.shield(run.detach(reader, finished=finished))


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _check_message(message: object, where: str, limit: int) -> str | JSONResponse:
    if message is None:
        return _problem(422, f"{where} is required")
    if not isinstance(message, str):
        return _problem(422, f"{where} must be a string, got {json_type(message)}")
    if not message.strip():
        return _problem(422, f"{where} must not be empty")
    if len(message) > limit:
        return _problem(
            422, f"{where} is {len(message)} characters long; the limit is {limit} characters"
        )
    return message


async def _read_json(request: Request, limit: int) -> object | JSONResponse:
    """The request's JSON body, or the 4xx response that says why it cannot be read."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        got = repr(media_type) if media_type else "no Content-Type"
        return _problem(415, f"Content-Type must be application/json, got {got}")
    max_bytes = limit * _BYTES_PER_CHAR + 1024
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return _problem(413, f"request body is larger than {max_bytes} bytes")
    try:
        payload = json.loads(bytes(body))
    except json.JSONDecodeError as exc:
        return _problem(
            400,
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )
    except UnicodeDecodeError:
        return _problem(400, "request body is not valid JSON: it is not UTF-8 text")
    parsed: object = payload
    return parsed


async def _read_json_message(request: Request, limit: int) -> str | JSONResponse:
    payload = await _read_json(request, limit)
    if isinstance(payload, JSONResponse):
        return payload
    if not isinstance(payload, dict):
        return _problem(
            422,
            f'request body must be a JSON object like {{"message": "..."}}, got {json_type(payload)}',
        )
    unexpected = sorted(set(payload) - {"message"})
    if unexpected:
        return _problem(422, f"unexpected field {unexpected[0]!r}; the only field is 'message'")
    return _check_message(payload.get("message"), "field 'message'", limit)


def _start(lab: _Lab, message: str, encoder: WireEncoder | None = None) -> Response:
    run_id = new_run_id()
    try:
        events = lab.agent.stream(message, k=lab.settings.k, run_id=run_id)
    except (TypeError, ValueError) as exc:  # the agent refused the request before any event
        return _problem(422, str(exc))
    # Only the lab's own dialect carries event ids, so only it can be resumed.
    resumable = lab.settings.resumable and encoder is None
    if encoder is None:
        encoder = LabEncoder(retry_ms=_RECONNECT_MS if resumable else None)
    run = lab.runs.new_run(run_id, message, events, encoder, resumable=resumable)
    return _RunStream(lab, run, 0)


def _resume(lab: _Lab, message: str, last_event_id: str) -> Response:
    """Continue the run that ``Last-Event-ID`` names, right after that event."""
    try:
        run_id, seq = parse_last_event_id(last_event_id)
        if not lab.settings.resumable:
            raise ResumeError(
                409,
                "this server does not resume runs (start it with ServerSettings(resumable=True)); "
                "a dropped connection already stopped the run",
            )
        run = lab.runs.lookup(run_id)
        if run.expired:
            raise ResumeError(
                410,
                f"run {run_id} was cancelled: nobody reconnected within "
                f"{lab.settings.resume_grace_seconds:g} s",
            )
        if not run.resumable:
            raise ResumeError(409, f"run {run_id} cannot be resumed: it is not a lab stream")
        if run.message != message:
            raise ResumeError(
                409, f"Last-Event-ID names run {run_id}, which answers a different message"
            )
        cursor = run.resume_cursor(seq)
    except ResumeError as exc:
        return _problem(exc.status, exc.detail)
    return _RunStream(lab, run, cursor, resumed=True)


def _stream(lab: _Lab, request: Request, message: str) -> Response:
    last_event_id = request.headers.get("last-event-id")
    if last_event_id is None:
        return _start(lab, message)
    return _resume(lab, message, last_event_id)


def _dialect_endpoint(
    lab: _Lab, parse: DialectParser, name: str
) -> Callable[[Request], Awaitable[Response]]:
    limit = lab.settings.max_message_chars

    async def endpoint(request: Request) -> Response:
        # Dialect bodies carry a conversation, so allow a few questions' worth of JSON.
        payload = await _read_json(request, limit * 4)
        if isinstance(payload, JSONResponse):
            return payload
        try:
            message, encoder = parse(payload)
        except ValueError as exc:
            return _problem(422, f"not a valid {name} request: {exc}")
        checked = _check_message(message, "the last user message", limit)
        return checked if isinstance(checked, Response) else _start(lab, checked, encoder)

    return endpoint


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
    lab = _Lab(settings, agent)
    page = resources.files("labsupport").joinpath("static/index.html").read_text("utf-8")

    app = FastAPI(
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

    @app.post(
        "/chat/stream",
        openapi_extra={"requestBody": _CHAT_REQUEST_SCHEMA},
        responses=_STREAM_RESPONSES,
        response_class=Response,
    )
    async def chat_stream_post(request: Request) -> Response:
        """Answer ``message``, streaming the run's events as SSE."""
        message = await _read_json_message(request, settings.max_message_chars)
        return message if isinstance(message, Response) else _stream(lab, request, message)

    @app.get("/chat/stream", responses=_STREAM_RESPONSES, response_class=Response)
    async def chat_stream_get(request: Request) -> Response:
        """The same stream for ``EventSource``, which can only GET: ``?message=...``."""
        message = _check_message(
            request.query_params.get("message"),
            "query parameter 'message'",
            settings.max_message_chars,
        )
        return message if isinstance(message, Response) else _stream(lab, request, message)

    @app.post("/runs/{run_id}/cancel")
    async def cancel_run(run_id: str) -> JSONResponse:
        """Stop a run now, whether a client is reading it or not; its stream ends with an error."""
        lab.runs.counters.cancel_requests += 1
        try:
            run = lab.runs.lookup(run_id)
        except ResumeError as exc:
            return _problem(exc.status, exc.detail)
        if not await asyncio.shield(run.cancel("cancelled", "the run was cancelled on request")):
            return _problem(409, f"run {run_id} already ended: {run.outcome}")
        return JSONResponse({"run_id": run_id, "outcome": run.outcome, "events": run.produced})

    @app.get("/stats")
    async def stats() -> dict[str, int | float]:
        """Streams open now, runs by outcome, and what the model generated and billed."""
        return lab.stats()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        """The browser page: ask, watch the steps and the answer stream, stop."""
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

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


def _add_dialects(app: FastAPI, lab: _Lab) -> None:
    """The same runs in standard shapes, so stock AG-UI and AI SDK clients connect."""
    from . import agui, vercel  # the protocol libraries load only with the app

    app.add_api_route(
        "/ag-ui",
        _dialect_endpoint(lab, agui.parse_request, "AG-UI RunAgentInput"),
        methods=["POST"],
        response_class=Response,
        summary="Run the agent, streaming AG-UI events (RunAgentInput in, SSE out)",
    )
    app.add_api_route(
        "/api/chat",
        _dialect_endpoint(lab, vercel.parse_request, "AI SDK chat"),
        methods=["POST"],
        response_class=Response,
        summary="Run the agent, streaming an AI SDK UI message stream (useChat's default endpoint)",
    )


def stream_closer(app: object) -> Callable[[], None] | None:
    """The function that ends an app's open streams cleanly, if the app is one of ours.

    Call what it returns on the server's event loop, just before shutting down:
    each open stream gets an ``error`` event (``server_shutdown``) and ends.
    """
    state = getattr(app, "state", None)
    lab = getattr(state, "lab", None)
    return lab.close_streams if isinstance(lab, _Lab) else None


app = create_app()
"""The app with default settings: ``uvicorn labsupport.server:app``."""
