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

Every endpoint but the page and the API docs requires the server's secret
(``labsupport.auth``): ``Authorization: Bearer <secret>`` or ``?token=<secret>``.
``uvicorn labsupport.server:app`` takes it from ``$LAB_TOKEN``. Try it:

    export LAB_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    uvicorn labsupport.server:app &
    curl -N -X POST localhost:8000/chat/stream -H "Authorization: Bearer $LAB_TOKEN" \\
         -H 'Content-Type: application/json' -d '{"message": "Who runs billing?"}'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .agent_api import Agent, MockAgent
from .auth import TokenGuard, check_token, new_token, token_from_env
from .host_guard import HostGuard
from .lab_routes import add_dialect_routes, add_lab_routes
from .live_run import RunLimits
from .openai_endpoint import create_openai_router
from .run_requests import Lab
from .run_store import open_run_store
from .server_settings import DEFAULT_CORS_ORIGINS, ServerSettings

__all__ = [
    "DEFAULT_CORS_ORIGINS",
    "STATS_FIELDS",
    "ServerSettings",
    "app",
    "app_token",
    "create_app",
    "stream_closer",
]

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


def create_app(
    settings: ServerSettings | None = None,
    *,
    agent: Agent | None = None,
    routers: Sequence[APIRouter] = (),
    token: str | None = None,
) -> FastAPI:
    """Build the lab's FastAPI app serving ``agent``; ``routers`` adds endpoints of your own.

    ``agent`` is any ``labsupport.agent_api.Agent`` (default: the mock, paced by
    ``settings``). A mock agent's model also answers the OpenAI-compatible ``/v1``.
    ``token`` is the secret every request must carry (default: a new one for this
    app; ``app_token(app)`` reads it); with ``settings.require_token=False`` there is none.

    Example: the default app speaks the lab's stream, its dialects and OpenAI's API.

    >>> app = create_app(ServerSettings(tokens_per_second=None, keepalive_seconds=1.0))
    >>> sorted(app.openapi()["paths"])  # doctest: +NORMALIZE_WHITESPACE
    ['/', '/ag-ui', '/api/chat', '/api/chat/{chat_id}/stream', '/chat/stream',
     '/runs/{run_id}/cancel', '/stats', '/v1/chat/completions', '/v1/models',
     '/v1/models/{model_id}']
    """
    settings = settings or ServerSettings()
    if not isinstance(settings, ServerSettings):
        raise TypeError(f"settings must be a ServerSettings, got {type(settings).__name__}")
    agent = agent if agent is not None else MockAgent(settings.build_llm())
    if not isinstance(agent, Agent):
        raise TypeError(
            f"agent must have stream(question, *, k, run_id) and spend(), got {type(agent).__name__}"
        )
    token = _app_secret(settings, token)
    lab = _lab(settings, agent)
    app = FastAPI(
        lifespan=_store_lifespan(lab),
        title="labsupport streaming server",
        summary="The lab agent's events as Server-Sent Events.",
        version="0.1.0",
    )
    app.state.lab = lab
    app.state.token = token
    _add_guards(app, settings, token)
    add_lab_routes(app, lab)
    add_dialect_routes(app, lab)
    if isinstance(agent, MockAgent):
        # The OpenAI-compatible API shares the mock, so /stats counts what the SDK's requests cost.
        # Its completions hold slots of the same cap as runs.
        app.include_router(create_openai_router(agent.llm, slots=lab.runs))
    for router in routers:
        if not isinstance(router, APIRouter):
            raise TypeError(
                f"routers must hold fastapi.APIRouter objects, got {type(router).__name__}"
            )
        app.include_router(router)
    return app


def _app_secret(settings: ServerSettings, token: str | None) -> str | None:
    """The secret the app requires: ``token`` checked, or a new one; None when it requires none."""
    if settings.require_token:
        return new_token() if token is None else check_token(token)
    if token is not None:
        raise ValueError(
            "token was given, but settings.require_token is False: pass one or the other"
        )
    return None


def _add_guards(app: FastAPI, settings: ServerSettings, token: str | None) -> None:
    """The middleware every request passes: Host and origin, CORS, then the secret."""
    if token is not None:
        # Innermost: CORS answers a preflight (which carries no secret) and labels a refusal.
        app.add_middleware(TokenGuard, token=token)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Accept", "Last-Event-ID"],
        expose_headers=["X-Run-ID"],
        allow_credentials=False,
    )
    # Outermost, so a rebound Host or a cross-site request is refused before CORS or a route.
    app.add_middleware(
        HostGuard, allowed_hosts=settings.allowed_hosts, cors_origins=settings.cors_origins
    )


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


def stream_closer(app: object) -> Callable[[], None] | None:
    """The function that ends an app's open streams cleanly, if the app is one of ours.

    Call what it returns on the server's event loop, just before shutting down:
    each open stream gets an ``error`` event (``server_shutdown``) and ends.
    """
    state = getattr(app, "state", None)
    lab = getattr(state, "lab", None)
    return lab.close_streams if isinstance(lab, Lab) else None


def app_token(app: object) -> str | None:
    """The secret an app made by ``create_app`` requires, or ``None`` (off, or not ours)."""
    token = getattr(getattr(app, "state", None), "token", None)
    return token if isinstance(token, str) else None


app = create_app(token=token_from_env())
"""The app with default settings, its secret from ``$LAB_TOKEN``: ``uvicorn labsupport.server:app``.

Without ``$LAB_TOKEN`` it makes a secret nobody outside this process knows: set the
variable first (see the module docstring)."""
