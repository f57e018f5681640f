"""The lab's HTTP server: the agent's events as Server-Sent Events, a page, and live counters.

Start it from a terminal with ``uvicorn labsupport.server:app``, or from a notebook
with ``labsupport.kernel_server.start_server()``. Endpoints:

- ``POST /chat/stream`` with JSON ``{"message": "..."}``: the run's events as ``text/event-stream``
- ``GET /chat/stream?message=...``: the same, for the browser's ``EventSource`` (GET only)
- ``GET /stats``: seven counters that show runs starting, ending and what they spent
- ``GET /``: a page that asks a question and renders the stream

Bad requests are refused before anything streams, with a 4xx JSON body whose
``detail`` says what is wrong. Once streaming, a failure becomes an ``error``
event and the stream ends cleanly. A client that goes away stops the run: the
agent's generator is closed, the model stops generating, and ``/stats`` shows it.

Try it:
    curl -N -X POST localhost:8000/chat/stream -H 'Content-Type: application/json' \\
         -d '{"message": "Who runs billing?"}'
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from importlib import resources
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from .agent import MAX_QUESTION_CHARS, achat_stream, new_run_id
from .events import ErrorEvent, Event
from .mockllm import MockLLM
from .sse import KEEPALIVE, MEDIA_TYPE, STREAM_HEADERS, encode_event

__all__ = [
    "DEFAULT_CORS_ORIGINS",
    "STATS_FIELDS",
    "AgentFn",
    "DialectParser",
    "LabEncoder",
    "ServerSettings",
    "WireEncoder",
    "app",
    "create_app",
    "stream_closer",
]

AgentFn = Callable[..., AsyncIterator[Event]]
"""An agent: ``agent(message, *, llm, k, run_id)`` returns an async iterator of events."""

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
)

# A JSON body holding the longest allowed message, escaped, fits in this many bytes per char.
_BYTES_PER_CHAR = 12

Outcome = Literal["completed", "failed", "cancelled"]


class ServerSettings(BaseModel):
    """How the server behaves; every field has a lesson-friendly default.

    The pacing knobs (``ttft``, ``tokens_per_second``, ``tool_delay``,
    ``fail_after_tokens``, ``model``) build the server's ``MockLLM``; pass
    ``llm`` to use a model of your own instead (its counters feed ``/stats``).
    ``agent`` is called as ``agent(message, llm=..., k=..., run_id=...)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str = "lab-mock-1"
    ttft: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    # Slow enough that a reader sees the answer arrive token by token.
    tokens_per_second: float | None = Field(default=20.0, gt=0, allow_inf_nan=False)
    tool_delay: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    fail_after_tokens: int | None = Field(default=None, ge=0)
    llm: MockLLM | None = None
    agent: AgentFn = achat_stream
    k: int = Field(default=3, ge=1, le=10)
    keepalive_seconds: float = Field(default=15.0, gt=0, allow_inf_nan=False)
    max_message_chars: int = Field(default=MAX_QUESTION_CHARS, ge=1)
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS

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


class WireEncoder(Protocol):
    """Turns one run's lab events into the bytes of a wire format (a "dialect").

    The server calls ``encode`` once per event, in order, and every run it
    encodes ends with exactly one ``done`` or ``error`` event: a crashing agent,
    a server shutdown or a cancel each become an ``error`` event first.
    """

    media_type: str
    headers: Mapping[str, str]

    def encode(self, event: Event) -> bytes: ...


class LabEncoder:
    """The lab's own dialect: one SSE block per event, ``id: <run_id>:<seq>``."""

    media_type = MEDIA_TYPE
    headers: Mapping[str, str] = {}

    def encode(self, event: Event) -> bytes:
        return encode_event(event)


DialectParser = Callable[[object], "tuple[str, WireEncoder]"]
"""Reads a dialect's request body: returns the question and the run's encoder, or raises ValueError."""


class _Lab:
    """What one app instance shares between requests: settings, model, counters."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.llm = settings.build_llm()
        self.active_streams = 0
        self.runs_started = 0
        self.runs_completed = 0
        self.runs_cancelled = 0
        self.runs_failed = 0
        self._closing: asyncio.Event | None = None
        self._closing_loop: asyncio.AbstractEventLoop | None = None

    def stats(self) -> dict[str, int | float]:
        return {
            "active_streams": self.active_streams,
            "runs_started": self.runs_started,
            "runs_completed": self.runs_completed,
            "runs_cancelled": self.runs_cancelled,
            "runs_failed": self.runs_failed,
            "tokens_generated": self.llm.tokens_generated,
            "cost_usd": round(self.llm.cost_usd, 8),
        }

    def run_started(self) -> None:
        self.runs_started += 1
        self.active_streams += 1

    def run_ended(self, outcome: Outcome) -> None:
        self.active_streams -= 1
        if outcome == "completed":
            self.runs_completed += 1
        elif outcome == "failed":
            self.runs_failed += 1
        else:
            self.runs_cancelled += 1

    def closing(self) -> asyncio.Event:
        # An asyncio.Event belongs to one loop; a restarted server runs on a new one.
        loop = asyncio.get_running_loop()
        if self._closing is None or self._closing_loop is not loop:
            self._closing, self._closing_loop = asyncio.Event(), loop
        return self._closing

    def close_streams(self) -> None:
        """End every open stream with an ``error`` event; call on the server's loop."""
        if self._closing is not None:
            self._closing.set()


class _EventStream(StreamingResponse):
    """One run sent as SSE: events, keep-alives while silent, and an end however it ends.

    Bytes go out through Starlette's plain ``StreamingResponse`` path (one send per
    event). Three helpers run beside it for the life of the stream: one sends a
    keep-alive after ``keepalive_seconds`` of silence, one cancels everything when
    the client disconnects, one ends the stream when the server shuts down.
    """

    media_type = MEDIA_TYPE

    def __init__(
        self,
        lab: _Lab,
        run_id: str,
        events: AsyncIterator[Event],
        encoder: WireEncoder | None = None,
    ) -> None:
        self._lab = lab
        self._run_id = run_id
        self._events = events
        self._encoder = encoder or LabEncoder()
        self._next_seq = 0
        self._outcome: Outcome | None = None
        self._body = self._encode()
        headers = {**STREAM_HEADERS, **self._encoder.headers}
        super().__init__(self._body, headers=headers, media_type=self._encoder.media_type)

    def _error(self, code: str, message: str) -> bytes:
        event = ErrorEvent(run_id=self._run_id, seq=self._next_seq, code=code, message=message)
        self._next_seq += 1
        return self._encoder.encode(event)

    async def _encode(self) -> AsyncGenerator[bytes, None]:
        try:
            async for event in self._events:
                self._next_seq = event.seq + 1
                if event.type == "done":
                    self._outcome = "completed"
                elif event.type == "error":
                    self._outcome = "failed"
                yield self._encoder.encode(event)
                if self._outcome is not None:
                    return  # nothing follows a terminal event
        except Exception as exc:  # a bug in the agent must still end the run with one event
            self._outcome = "failed"
            yield self._error("internal_error", f"{type(exc).__name__}: {exc}")
            return
        self._outcome = "failed"
        yield self._error("internal_error", "the agent stopped without a done or error event")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lab = self._lab
        loop = asyncio.get_running_loop()
        interval = lab.settings.keepalive_seconds
        closing = lab.closing()
        lock = asyncio.Lock()
        last_sent = loop.time()
        complete = False
        shutting_down = False

        async def send_message(message: Message) -> None:
            nonlocal last_sent, complete
            async with lock:
                if complete:
                    return
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    complete = True
            last_sent = loop.time()

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(max(0.0, last_sent + interval - loop.time()))
                if loop.time() - last_sent >= interval:
                    await send_message(
                        {"type": "http.response.body", "body": KEEPALIVE, "more_body": True}
                    )

        async def watch_disconnect(scope: anyio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            scope.cancel()

        async def watch_shutdown(scope: anyio.CancelScope) -> None:
            nonlocal shutting_down
            await closing.wait()
            shutting_down = True
            scope.cancel()

        lab.run_started()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(keep_alive)
                tasks.start_soon(watch_disconnect, tasks.cancel_scope)
                tasks.start_soon(watch_shutdown, tasks.cancel_scope)
                await self.stream_response(send_message)
                tasks.cancel_scope.cancel()
            if shutting_down and not complete:
                await self._close_body()
                if self._outcome is None:
                    chunk = self._error("server_shutdown", "the server is shutting down")
                    await send_message(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
                await send_message({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            # Cancelled or not, close the agent now (its model stops billing) and count the run.
            with anyio.CancelScope(shield=True):
                await self._close_body()
            lab.run_ended(self._outcome or "cancelled")

    async def _close_body(self) -> None:
        await self._body.aclose()
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _check_message(message: object, where: str, limit: int) -> str | JSONResponse:
    if message is None:
        return _problem(422, f"{where} is required")
    if not isinstance(message, str):
        return _problem(422, f"{where} must be a string, got {_json_type(message)}")
    if not message.strip():
        return _problem(422, f"{where} must not be empty")
    if len(message) > limit:
        return _problem(
            422, f"{where} is {len(message)} characters long; the limit is {limit} characters"
        )
    return message


def _json_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "an array",
        dict: "an object",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


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
            f'request body must be a JSON object like {{"message": "..."}}, got {_json_type(payload)}',
        )
    unexpected = sorted(set(payload) - {"message"})
    if unexpected:
        return _problem(422, f"unexpected field {unexpected[0]!r}; the only field is 'message'")
    return _check_message(payload.get("message"), "field 'message'", limit)


def _start(lab: _Lab, message: str, encoder: WireEncoder | None = None) -> Response:
    run_id = new_run_id()
    try:
        events = lab.settings.agent(message, llm=lab.llm, k=lab.settings.k, run_id=run_id)
    except (TypeError, ValueError) as exc:  # the agent refused the request before any event
        return _problem(422, str(exc))
    return _EventStream(lab, run_id, events, encoder)


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
    settings: ServerSettings | None = None, *, routers: Sequence[APIRouter] = ()
) -> FastAPI:
    """Build the lab's FastAPI app; ``routers`` adds more endpoints (e.g. an OpenAI-style API).

    Example: ``create_app(ServerSettings(tokens_per_second=None, keepalive_seconds=1.0))``
    """
    settings = settings or ServerSettings()
    if not isinstance(settings, ServerSettings):
        raise TypeError(f"settings must be a ServerSettings, got {type(settings).__name__}")
    lab = _Lab(settings)
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
        return message if isinstance(message, Response) else _start(lab, message)

    @app.get("/chat/stream", responses=_STREAM_RESPONSES, response_class=Response)
    async def chat_stream_get(request: Request) -> Response:
        """The same stream for ``EventSource``, which can only GET: ``?message=...``."""
        message = _check_message(
            request.query_params.get("message"),
            "query parameter 'message'",
            settings.max_message_chars,
        )
        return message if isinstance(message, Response) else _start(lab, message)

    @app.get("/stats")
    async def stats() -> dict[str, int | float]:
        """Streams open now, runs by outcome, and what the model generated and billed."""
        return lab.stats()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        """The browser page: ask, watch the steps and the answer stream, stop."""
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    _add_dialects(app, lab)

    for router in routers:
        if not isinstance(router, APIRouter):
            raise TypeError(
                f"routers must hold fastapi.APIRouter objects, got {type(router).__name__}"
            )
        app.include_router(router)
    return app


def _add_dialects(app: FastAPI, lab: _Lab) -> None:
    """The same runs in standard shapes, so stock AG-UI and AI SDK clients connect."""
    import importlib

    dialects = (
        ("/ag-ui", "agui", "AG-UI RunAgentInput", "AG-UI events (RunAgentInput in, SSE out)"),
        ("/api/chat", "vercel", "AI SDK chat", "an AI SDK UI message stream (useChat's default)"),
    )
    for path, module_name, name, shape in dialects:
        try:
            module = importlib.import_module(f".{module_name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module_name}":
                raise
            continue
        app.add_api_route(
            path,
            _dialect_endpoint(lab, module.parse_request, name),
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
    return lab.close_streams if isinstance(lab, _Lab) else None


app = create_app()
"""The app with default settings: ``uvicorn labsupport.server:app``."""
