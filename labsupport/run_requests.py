"""How a request becomes a run: start one, resume one, cancel one, for any dialect.

``Lab`` is what one app shares between requests: the agent, its runs and the
few settings requests need. The functions here return a response: the run's
stream, or a 4xx whose ``detail`` says why not. This is the HTTP layer, so it
is where the runs' errors become status codes (``STATUS``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .agent_api import Agent
from .numbering import new_run_id
from .request_checks import DEFAULT_MAX_BODY_BYTES, check_message, problem, read_json
from .run_errors import (
    RunConflict,
    RunError,
    RunGone,
    StoreUnavailable,
    TooManyRuns,
    UnknownRun,
)
from .run_store import InProcessStore, RunStore
from .sse import LabEncoder, WireEncoder, parse_last_event_id

__all__ = ["STATUS", "DialectParser", "Lab", "cancel", "dialect_endpoint", "replay_chat", "stream"]

DialectParser = Callable[[object], "tuple[str, WireEncoder]"]
"""Reads a dialect's request body: returns the question and the run's encoder, or raises ValueError."""

STATUS: dict[type[RunError], int] = {
    UnknownRun: 404,
    RunGone: 410,
    RunConflict: 409,
    TooManyRuns: 429,
}
"""The HTTP status of each reason a run cannot be started, resumed or cancelled."""

# What a 429 asks the client to wait: mock runs last seconds, so a slot frees up soon.
RETRY_AFTER_SECONDS = 1

# How long EventSource waits before reconnecting to a resumable stream.
_RECONNECT_MS = 1000

# How many chats' latest runs a resumable server remembers for the AI SDK's reconnection.
_MAX_CHATS = 10_000


@dataclass
class Lab:
    """What one app instance shares between requests."""

    agent: Agent
    runs: RunStore = field(default_factory=InProcessStore)
    k: int = 3
    resumable: bool = False
    keepalive_seconds: float = 15.0
    max_message_chars: int = 2000
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    chats: dict[str, str] = field(default_factory=dict)
    """An AI SDK chat's id -> its latest run's id, on a resumable server."""

    def remember_chat(self, chat_id: str, run_id: str) -> None:
        """Note the chat's latest run, for ``replay_chat``; the oldest chats are forgotten."""
        self.chats.pop(chat_id, None)
        self.chats[chat_id] = run_id
        while len(self.chats) > _MAX_CHATS:
            del self.chats[next(iter(self.chats))]

    def stats(self) -> dict[str, int | float]:
        """The ``/stats`` counters: the runs' and the agent's spend."""
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
            "active_runs": counters.active_runs,
            "runs_refused": counters.runs_refused,
        }

    def close_streams(self) -> None:
        """End every run with an ``error`` event (``server_shutdown``); call on the server's loop."""
        self.runs.cancel_all("server_shutdown", "the server is shutting down")


class _Deferred(Response):
    """A response decided when it is sent, for answers that need the run store's word first."""

    def __init__(self, decide: Callable[[], Awaitable[Response]]) -> None:
        super().__init__()
        self._decide = decide

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._decide()
        await response(scope, receive, send)


def _refused(exc: RunError) -> JSONResponse:
    status = STATUS[type(exc)]
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else None
    return problem(status, str(exc), headers)


def start(
    lab: Lab, message: str, encoder: WireEncoder | None = None, *, replayable: bool = False
) -> Response:
    """A new run answering ``message``, streamed in ``encoder``'s dialect (the lab's own if None).

    ``replayable``: the dialect's client reconnects by asking for the whole stream again
    (the AI SDK), so on a resumable server its run is kept for that too.
    At the cap of active runs the answer is 429 with ``Retry-After``, before the agent is asked.
    """
    try:
        lab.runs.check_room()
    except TooManyRuns as exc:
        return _refused(exc)
    run_id = new_run_id()
    try:
        events = lab.agent.stream(message, k=lab.k, run_id=run_id)
    except (TypeError, ValueError) as exc:  # the agent refused the request before any event
        return problem(422, str(exc))
    # The lab's own dialect resumes after an event id; a replayable one from its first chunk.
    resumable = lab.resumable and (encoder is None or (replayable and lab.runs.replays_dialects))
    if encoder is None:
        encoder = LabEncoder(retry_ms=_RECONNECT_MS if resumable else None)
    return lab.runs.start(
        run_id,
        message,
        events,
        encoder,
        resumable=resumable,
        keepalive_seconds=lab.keepalive_seconds,
    )


def resume(lab: Lab, message: str, last_event_id: str) -> Response:
    """Continue the run that ``Last-Event-ID`` names, right after that event."""
    try:
        run_id, seq = parse_last_event_id(last_event_id)
    except ValueError as exc:
        return problem(400, str(exc))
    if not lab.resumable:
        return problem(
            409,
            "this server does not resume runs (start it with ServerSettings(resumable=True)); "
            "a dropped connection already stopped the run",
        )

    async def respond() -> Response:
        try:
            return await lab.runs.resume(
                run_id, seq, message, keepalive_seconds=lab.keepalive_seconds
            )
        except RunError as exc:
            return _refused(exc)
        except StoreUnavailable as exc:
            return problem(503, str(exc))

    return _Deferred(respond)


def stream(lab: Lab, request: Request, message: str) -> Response:
    """Start a run, or resume one when the request carries ``Last-Event-ID``."""
    last_event_id = request.headers.get("last-event-id")
    if last_event_id is None:
        return start(lab, message)
    return resume(lab, message, last_event_id)


async def cancel(lab: Lab, run_id: str) -> JSONResponse:
    """Stop a run now, read or not; its stream ends with an ``error`` event."""
    lab.runs.cancel_requested()
    try:
        outcome, produced = await lab.runs.cancel(
            run_id, "cancelled", "the run was cancelled on request"
        )
    except RunError as exc:
        return _refused(exc)
    except StoreUnavailable as exc:
        return problem(503, str(exc))
    return JSONResponse({"run_id": run_id, "outcome": outcome, "events": produced})


def replay_chat(lab: Lab, chat_id: str) -> Response:
    """The AI SDK's reconnection (``GET /api/chat/{id}/stream``): the chat's latest run again.

    The whole stream from its first chunk (the SDK rebuilds the message from it), then live;
    204 when the chat has no run to replay, which the SDK reads as "nothing to resume".
    """
    run_id = lab.chats.get(chat_id)
    if run_id is None:
        return Response(status_code=204)

    async def respond() -> Response:
        try:
            return await lab.runs.replay(run_id, keepalive_seconds=lab.keepalive_seconds)
        except UnknownRun:
            lab.chats.pop(chat_id, None)
            return Response(status_code=204)
        except RunError as exc:
            return _refused(exc)
        except StoreUnavailable as exc:
            return problem(503, str(exc))

    return _Deferred(respond)


def dialect_endpoint(
    lab: Lab, parse: DialectParser, name: str, *, replayable: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that reads a dialect's body with ``parse`` and streams the run in it.

    ``replayable``: the body's ``id`` names a chat whose latest run ``replay_chat`` serves.
    """
    limit = lab.max_message_chars

    async def endpoint(request: Request) -> Response:
        # Dialect bodies carry a conversation, so allow a few questions' worth of JSON.
        payload = await read_json(request, limit * 4, max_body_bytes=lab.max_body_bytes)
        if isinstance(payload, JSONResponse):
            return payload
        try:
            message, encoder = parse(payload)
        except ValueError as exc:
            return problem(422, f"not a valid {name} request: {exc}")
        checked = check_message(message, "the last user message", limit)
        if isinstance(checked, Response):
            return checked
        response = start(lab, checked, encoder, replayable=replayable)
        if (
            replayable
            and lab.resumable
            and lab.runs.replays_dialects
            and "x-run-id" in response.headers
        ):
            assert isinstance(payload, dict)  # parse accepted it
            lab.remember_chat(str(payload["id"]), response.headers["x-run-id"])
        return response

    return endpoint
