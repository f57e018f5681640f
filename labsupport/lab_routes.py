"""The lab's routes: the stream (POST and GET), cancel, ``/stats``, the page, and the dialects.

Each route reads what its request asks and hands it to ``labsupport.run_requests``,
which starts, resumes or cancels the run. The OpenAPI schema (``/docs``) shows the
chat request's body and what the stream answers, since the route reads the body
itself (to refuse a bad one with a clear ``detail`` before anything streams).

>>> sorted(_CHAT_REQUEST_SCHEMA["content"]["application/json"]["example"])
['message']
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .request_checks import check_message, read_json_message
from .run_requests import DialectParser, Lab, cancel, dialect_endpoint, replay_chat, stream
from .sse import MEDIA_TYPE

__all__ = ["add_dialect_routes", "add_lab_routes"]

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


def add_lab_routes(app: FastAPI, lab: Lab) -> None:
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
        # no-referrer: the page's own URL carries the secret; no link may pass it on.
        headers = {"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"}
        return HTMLResponse(page, headers=headers)


def add_dialect_routes(app: FastAPI, lab: Lab) -> None:
    """The same runs in standard shapes, so stock AG-UI and AI SDK clients connect."""
    from . import agui_request, vercel_request  # the protocol libraries load only with the app

    dialects: list[tuple[str, DialectParser, str, str, bool]] = [
        (
            "/ag-ui",
            agui_request.parse_request,
            "AG-UI RunAgentInput",
            "AG-UI events (RunAgentInput in)",
            False,
        ),
        (
            "/api/chat",
            vercel_request.parse_request,
            "AI SDK chat",
            "an AI SDK UI message stream (useChat)",
            True,
        ),
    ]
    for path, parse, name, shape, replayable in dialects:
        app.add_api_route(
            path,
            dialect_endpoint(lab, parse, name, replayable=replayable),
            methods=["POST"],
            response_class=Response,
            summary=f"Run the agent, streaming {shape}",
        )

    async def replay(chat_id: str) -> Response:
        """The chat's latest run again, from its first chunk, then live (204 if none)."""
        return replay_chat(lab, chat_id)

    # useChat's resumeStream() after a dropped connection, on a resumable server.
    app.add_api_route(
        "/api/chat/{chat_id}/stream", replay, methods=["GET"], response_class=Response
    )
