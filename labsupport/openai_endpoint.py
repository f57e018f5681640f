"""An OpenAI-compatible Chat Completions endpoint, answered by the lab's mock model.

Mount the router on any FastAPI app and point the unmodified openai SDK at it::

    app.include_router(create_openai_router(llm=MockLLM()))
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=server_secret)

What the mock answers is decided in ``labsupport.mock_turn``; the chunks it streams
are built in ``labsupport.openai_chunks``. When the client goes away the generator
is cancelled, so the mock stops generating and billing.

The router checks no key itself: the lab server's ``TokenGuard`` (``labsupport.auth``)
requires its secret before any request gets here, so the secret is the SDK's
``api_key``. Given ``slots`` (the server's ``RunRegistry``), each completion holds
one of the server's run slots while it runs; at the cap the answer is 429 with
``Retry-After``, in OpenAI's error shape, which the SDK retries by itself.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionMessage, ChatCompletionMessageToolCall
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.chat.chat_completion_message_tool_call import Function
from pydantic import ValidationError
from starlette.background import BackgroundTask

from ._pacing import adrive
from .mock_turn import TurnRun, plan
from .mockllm import MockLLM, MockModelError
from .openai_chunks import ChunkBuilder, error_chunk
from .openai_wire import ChatCompletionRequest, WireError, error_from_validation
from .prices import PRICES
from .run_errors import TooManyRuns
from .sse import DONE, MEDIA_TYPE, STREAM_HEADERS

__all__ = ["RETRY_AFTER_SECONDS", "CompletionStats", "Slots", "create_openai_router"]

RETRY_AFTER_SECONDS = 1
"""What a 429 asks the client to wait: a mock completion lasts seconds, so a slot frees soon."""


class Slots(Protocol):
    """Where completions take a slot: ``take_slot()`` returns the function that frees it,
    or raises ``TooManyRuns`` (``labsupport.run_registry.RunRegistry`` is one)."""

    def take_slot(self) -> Callable[[], None]: ...


class _Unlimited:
    def take_slot(self) -> Callable[[], None]:
        return lambda: None


class CompletionStats:
    """Counters of the endpoint, for a ``/stats`` page: how streams ended, how many were refused.

    ``streams_disconnected`` counts streams the client left before the end; the
    mock's own counters (``MockLLM.tokens_generated``) show that generation stopped.
    """

    _FIELDS = (
        "completions",
        "streams_started",
        "streams_finished",
        "streams_disconnected",
        "streams_failed",
        "completions_failed",
        "rejected",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self._FIELDS, 0)

    def add(self, name: str) -> None:
        """Count one more ``name`` (one of the fields of ``snapshot``)."""
        if name not in self._counts:
            raise ValueError(f"name must be one of {list(self._FIELDS)}, got {name!r}")
        with self._lock:
            self._counts[name] += 1

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._counts = dict.fromkeys(self._FIELDS, 0)

    def snapshot(self) -> dict[str, int]:
        """The counters now, as a plain dict."""
        with self._lock:
            return dict(self._counts)

    def __getattr__(self, name: str) -> int:
        counts = self.__dict__.get("_counts", {})
        if name in counts:
            return int(counts[name])
        raise AttributeError(name)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.snapshot().items())
        return f"CompletionStats({fields})"


async def _sse(
    run: TurnRun,
    model: str,
    include_usage: bool,
    stats: CompletionStats,
    release: Callable[[], None],
) -> AsyncGenerator[bytes, None]:
    chunks = ChunkBuilder(model)
    pieces = adrive(run.steps())
    outcome = "streams_disconnected"
    stats.add("streams_started")
    try:
        yield chunks.first(run)
        async for piece in pieces:
            yield chunks.piece(run, piece)
        yield chunks.delta(ChoiceDelta(), finish_reason=run.finish_reason)
        if include_usage:
            yield chunks.usage(run)
        yield DONE
        outcome = "streams_finished"
    except Exception as exc:  # a failing model ends the stream with an error the SDK raises
        outcome = "streams_failed"
        yield error_chunk(exc)
    finally:
        # Cancelled (client gone) or closed at a yield: either way stop the model now.
        await pieces.aclose()
        stats.add(outcome)
        release()


async def _complete(run: TurnRun, model: str, stats: CompletionStats) -> Response:
    parts = [piece async for piece in adrive(run.steps())]
    text = "".join(parts)
    if run.turn.kind == "tool_call":
        assert run.turn.tool is not None
        call = ChatCompletionMessageToolCall(
            id=run.call_id,
            type="function",
            function=Function(name=run.turn.tool.function.name, arguments=text),
        )
        message = ChatCompletionMessage(role="assistant", content=None, tool_calls=[call])
    else:
        message = ChatCompletionMessage(role="assistant", content=text)
    completion = ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[Choice(index=0, message=message, finish_reason=run.finish_reason)],
        usage=run.usage(),
    )
    stats.add("completions")
    return Response(completion.model_dump_json(exclude_unset=True), media_type="application/json")


def _refuse(exc: WireError, stats: CompletionStats) -> JSONResponse:
    stats.add("rejected")
    return JSONResponse(exc.body.model_dump(), status_code=exc.status)


def _model(name: str) -> Model:
    return Model(id=name, object="model", created=0, owned_by="labsupport")


def create_openai_router(
    llm: MockLLM | None = None,
    *,
    models: Sequence[str] | None = None,
    stats: CompletionStats | None = None,
    slots: Slots | None = None,
) -> APIRouter:
    """A router with ``POST /v1/chat/completions`` and ``GET /v1/models`` backed by ``llm``.

    ``llm`` sets the pacing, fault injection and spend counters (a new ``MockLLM()``
    by default); ``models`` are the names clients may ask for (the mock price
    table's by default); ``stats`` receives the endpoint's counters; ``slots``
    caps completions running at once (no cap by default). The API key is not
    checked here: the lab server's secret guards the whole app.
    """
    if llm is not None and not isinstance(llm, MockLLM):
        raise TypeError(f"llm must be a MockLLM, got {type(llm).__name__}")
    model_names = sorted(PRICES) if models is None else list(models)
    if not model_names or not all(isinstance(m, str) and m for m in model_names):
        raise ValueError(f"models must be a non-empty list of model names, got {models!r}")
    mock = llm if llm is not None else MockLLM()
    counters = stats if stats is not None else CompletionStats()
    cap: Slots = slots if slots is not None else _Unlimited()
    router = APIRouter(prefix="/v1", tags=["openai-compatible"])

    @router.get("/models")
    def list_models() -> dict[str, Any]:
        """The models this endpoint serves, in OpenAI's list shape."""
        return {"object": "list", "data": [_model(m).model_dump() for m in model_names]}

    @router.get("/models/{model_id}", response_model=None)
    def get_model(model_id: str) -> dict[str, Any] | JSONResponse:
        """One model, or OpenAI's 404."""
        if model_id not in model_names:
            return _refuse(_unknown_model(model_id, model_names), counters)
        return _model(model_id).model_dump()

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        """Answer a Chat Completions request, streamed or not, with the mock model."""
        try:
            parsed = await _read_request(request, model_names)
        except WireError as exc:
            return _refuse(exc, counters)
        try:
            release = cap.take_slot()
        except TooManyRuns as exc:
            counters.add("rejected")
            busy = WireError(429, str(exc), type="rate_limit_error", code="too_many_runs")
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return JSONResponse(busy.body.model_dump(), status_code=429, headers=headers)
        try:
            return await _answer(parsed, mock, counters, release)
        except BaseException:
            release()
            raise

    return router


async def _read_request(request: Request, model_names: Sequence[str]) -> ChatCompletionRequest:
    """The request's body, validated, for a model this endpoint serves; else ``WireError``."""
    try:
        body = await request.json()
    except ValueError:
        raise WireError(
            400, "We could not parse the JSON body of your request.", code="invalid_json"
        ) from None
    try:
        parsed = ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        raise error_from_validation(exc, body) from None
    if parsed.model not in model_names:
        raise _unknown_model(parsed.model, model_names)
    return parsed


async def _answer(
    parsed: ChatCompletionRequest,
    mock: MockLLM,
    counters: CompletionStats,
    release: Callable[[], None],
) -> Response:
    """The mock's turn for ``parsed``: one JSON completion, or a stream of chunks.

    ``release`` frees the completion's slot: at once for a JSON answer, at the end of
    the stream (or, if the stream never started, after the response) for chunks.
    """
    try:
        run = TurnRun(plan(parsed, mock), mock, parsed.token_limit)
    except WireError as exc:
        release()
        return _refuse(exc, counters)
    if not parsed.stream:
        try:
            return await _complete(run, parsed.model, counters)
        except MockModelError as exc:
            counters.add("completions_failed")
            failure = WireError(500, str(exc), type="server_error", code="model_error")
            return JSONResponse(failure.body.model_dump(), status_code=failure.status)
        finally:
            release()
    include_usage = parsed.stream_options is not None and parsed.stream_options.include_usage
    return StreamingResponse(
        _sse(run, parsed.model, include_usage, counters, release),
        media_type=MEDIA_TYPE,
        headers=STREAM_HEADERS,
        # A generator that never started has no finally to run: free the slot here too.
        background=BackgroundTask(release),
    )


def _unknown_model(name: str, served: Sequence[str]) -> WireError:
    return WireError(
        404,
        f"The model {name!r} does not exist; this endpoint serves {', '.join(served)}.",
        param="model",
        code="model_not_found",
    )
