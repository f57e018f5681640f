"""An OpenAI-compatible Chat Completions endpoint, answered by the lab's mock model.

Mount the router on any FastAPI app and point the unmodified openai SDK at it::

    app.include_router(create_openai_router(llm=MockLLM()))
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="lab")  # any key works

What the mock does with a request, decided from the conversation:

1. the last user message is the question;
2. if tool messages answer it, it answers from the documents those results name,
   with bracketed citations, and ``finish_reason`` is ``"stop"``;
3. else, if a search tool is offered (the first function whose name contains
   "search", such as ``search_kb``) and ``tool_choice`` allows it, it calls that
   tool with ``{"query": ..., "k": 3}`` and ``finish_reason`` is ``"tool_calls"``;
4. else it answers from its own look-up of the knowledge base.

Streamed, a turn is ``chat.completion.chunk`` data lines ending with ``data: [DONE]``;
a tool call streams as deltas of one ``index``: the id and name first, then the
JSON arguments in several pieces. A model failure mid-stream is sent as an
``{"error": ...}`` data line, which the SDK raises as ``APIError``. When the client
goes away the generator is cancelled, so the mock stops generating and billing.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.sse import format_sse_event
from openai.types import CompletionUsage, Model
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
)
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.chat.chat_completion_message_tool_call import Function
from pydantic import ValidationError

from ._pacing import Pause, adrive
from .corpus import DOCUMENTS, Document, search
from .mockllm import PRICES, MockLLM, MockModelError, count_tokens, tokenize
from .openai_wire import (
    ChatCompletionRequest,
    ChatMessage,
    ToolDef,
    WireError,
    error_from_validation,
)

__all__ = ["DEFAULT_K", "CompletionStats", "create_openai_router"]

DEFAULT_K = 3
"""How many documents the mock asks its search tool for."""

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_DONE = format_sse_event(data_str="[DONE]")
_DOC_ID = re.compile(r"\bD\d{1,3}\b")
_KNOWN_IDS = {doc.id for doc in DOCUMENTS}

FinishReason = Literal["stop", "length", "tool_calls"]


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


# -- deciding what the mock does -------------------------------------------------------


def _search_tool(tools: Sequence[ToolDef] | None) -> ToolDef | None:
    for tool in tools or ():
        if "search" in tool.function.name.lower():
            return tool
    return None


def _check_tool_messages(messages: Sequence[ChatMessage]) -> None:
    """Tool results must answer calls made earlier, and every call must be answered."""
    pending: dict[str, int] = {}
    for i, message in enumerate(messages):
        if message.role == "tool":
            if message.tool_call_id not in pending:
                raise WireError(
                    400,
                    f"Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceding message with 'tool_calls'; no call has id {message.tool_call_id!r}.",
                    param=f"messages[{i}].tool_call_id",
                )
            del pending[message.tool_call_id]
            continue
        if pending:
            where = pending[next(iter(pending))]
            raise WireError(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'; missing: {', '.join(pending)}.",
                param=f"messages[{where}]",
            )
        for call in message.tool_calls or ():
            pending[call.id] = i
    # Calls still pending at the end are fine: the client has not run the tool yet.


class _Turn:
    """What the mock answers to one request: a tool call or a (grounded) answer."""

    def __init__(
        self,
        kind: Literal["tool_call", "answer"],
        question: str,
        *,
        docs: Sequence[Document] = (),
        tool: ToolDef | None = None,
        prompt_text: str = "",
    ) -> None:
        self.kind = kind
        self.question = question
        self.docs = list(docs)
        self.tool = tool
        self.prompt_text = prompt_text

    def arguments(self, llm: MockLLM) -> dict[str, Any]:
        """The tool call's arguments; ``k`` only when the tool declares it."""
        assert self.tool is not None
        args: dict[str, Any] = {"query": llm.search_query(self.question)}
        properties = (self.tool.function.parameters or {}).get("properties", {})
        if isinstance(properties, dict) and "k" in properties:
            args["k"] = DEFAULT_K
        return args


def _documents_named(text: str) -> set[str]:
    return {doc_id for doc_id in _DOC_ID.findall(text) if doc_id in _KNOWN_IDS}


def _plan(request: ChatCompletionRequest, llm: MockLLM) -> _Turn:
    messages = request.messages
    _check_tool_messages(messages)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise WireError(400, "messages must contain at least one 'user' message.", param="messages")
    question = messages[last_user].text()
    results = [m.text() for m in messages[last_user + 1 :] if m.role == "tool"]
    # Rank the documents a tool returned as the mock's own search would, then keep the strong ones.
    everything = search(llm.search_query(question), k=len(DOCUMENTS))
    if results:
        named = set().union(*(_documents_named(text) for text in results))
        docs = llm.choose_sources([h for h in everything if h.doc.id in named])
        return _Turn("answer", question, docs=docs)

    tool = _search_tool(request.tools)
    choice = request.tool_choice
    if choice is not None and not isinstance(choice, str):
        offered = [t for t in request.tools or () if t.function.name == choice.function.name]
        if not offered:
            raise WireError(
                400,
                f"tool_choice names the function {choice.function.name!r}, which is not in 'tools'.",
                param="tool_choice",
            )
        if offered[0] is not tool:
            raise WireError(
                400,
                f"The lab's mock model can only call a search tool, not {choice.function.name!r}.",
                param="tool_choice",
            )
    if choice == "required" and tool is None:
        raise WireError(
            400,
            "tool_choice is 'required' but no search tool is offered; the lab's mock model "
            "can only call a function whose name contains 'search'.",
            param="tool_choice",
        )
    if tool is not None and choice != "none":
        offered_tools = "\n".join(
            f"{t.function.name}: {t.function.description or ''}" for t in request.tools or ()
        )
        conversation = "\n".join(f"{m.role}: {m.text()}" for m in messages)
        return _Turn(
            "tool_call", question, tool=tool, prompt_text=f"{offered_tools}\n{conversation}"
        )
    return _Turn("answer", question, docs=llm.choose_sources(everything[:DEFAULT_K]))


# -- running a turn, free of any clock (driven by _pacing.adrive) -------------------------


class _Run:
    """One turn being generated: yields text or argument pieces and pauses; counts usage."""

    def __init__(self, turn: _Turn, llm: MockLLM, token_limit: int | None) -> None:
        self.turn = turn
        self.llm = llm
        self.token_limit = token_limit
        self.call_id = f"call_{uuid.uuid4().hex[:12]}_1"
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason: FinishReason = "tool_calls" if turn.kind == "tool_call" else "stop"

    def steps(self) -> Generator[str | Pause, None, None]:
        return self._tool_call() if self.turn.kind == "tool_call" else self._answer()

    def _tool_call(self) -> Generator[str | Pause, None, None]:
        llm = self.llm
        self.prompt_tokens = count_tokens(self.turn.prompt_text)
        llm.bill(prompt_tokens=self.prompt_tokens)
        yield Pause(llm.ttft)
        gap = 0.0 if llm.tokens_per_second is None else 1.0 / llm.tokens_per_second
        for i, piece in enumerate(tokenize(json.dumps(self.turn.arguments(llm)))):
            if i:
                yield Pause(gap)
            self.completion_tokens += 1
            llm.bill(completion_tokens=1)
            yield piece

    def _answer(self) -> Generator[str | Pause, None, None]:
        llm, turn, limit = self.llm, self.turn, self.token_limit
        if limit is not None and limit < count_tokens(llm.compose_answer(turn.question, turn.docs)):
            self.finish_reason = "length"
        answer = llm.stream(turn.question, turn.docs)
        self.prompt_tokens = answer.prompt_tokens
        try:
            for step in answer:
                yield step
                if isinstance(step, str):
                    self.completion_tokens = answer.completion_tokens
                    # Stop before pulling the next token, so nothing past the limit is billed.
                    if limit is not None and self.completion_tokens >= limit:
                        return
        finally:
            answer.close()

    def usage(self) -> CompletionUsage:
        return CompletionUsage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
        )


# -- the wire -------------------------------------------------------------------------------


class _Chunks:
    """Builds the ``chat.completion.chunk`` objects of one streamed response."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def _chunk(self, choices: list[ChunkChoice], **extra: Any) -> bytes:
        chunk = ChatCompletionChunk(
            id=self.id,
            object="chat.completion.chunk",
            created=self.created,
            model=self.model,
            choices=choices,
            **extra,
        )
        return format_sse_event(data_str=chunk.model_dump_json(exclude_unset=True))

    def delta(self, delta: ChoiceDelta, finish_reason: FinishReason | None = None) -> bytes:
        return self._chunk([ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)])

    def first(self, run: _Run) -> bytes:
        if run.turn.kind == "answer":
            return self.delta(ChoiceDelta(role="assistant", content=""))
        assert run.turn.tool is not None
        call = ChoiceDeltaToolCall(
            index=0,
            id=run.call_id,
            type="function",
            function=ChoiceDeltaToolCallFunction(name=run.turn.tool.function.name, arguments=""),
        )
        return self.delta(ChoiceDelta(role="assistant", content=None, tool_calls=[call]))

    def piece(self, run: _Run, text: str) -> bytes:
        if run.turn.kind == "answer":
            return self.delta(ChoiceDelta(content=text))
        call = ChoiceDeltaToolCall(index=0, function=ChoiceDeltaToolCallFunction(arguments=text))
        return self.delta(ChoiceDelta(tool_calls=[call]))

    def usage(self, run: _Run) -> bytes:
        return self._chunk([], usage=run.usage())


def _error_line(exc: Exception) -> bytes:
    if isinstance(exc, MockModelError):
        body = WireError(500, str(exc), type="server_error", code="model_error").body
    else:
        body = WireError(
            500, f"{type(exc).__name__}: {exc}", type="server_error", code="internal_error"
        ).body
    return format_sse_event(data_str=body.model_dump_json())


async def _sse(
    run: _Run, model: str, include_usage: bool, stats: CompletionStats
) -> AsyncGenerator[bytes, None]:
    chunks = _Chunks(model)
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
        yield _DONE
        outcome = "streams_finished"
    except Exception as exc:  # a failing model ends the stream with an error the SDK raises
        outcome = "streams_failed"
        yield _error_line(exc)
    finally:
        # Cancelled (client gone) or closed at a yield: either way stop the model now.
        await pieces.aclose()
        stats.add(outcome)


async def _complete(run: _Run, model: str, stats: CompletionStats) -> Response:
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


def create_openai_router(
    llm: MockLLM | None = None,
    *,
    models: Sequence[str] | None = None,
    stats: CompletionStats | None = None,
) -> APIRouter:
    """A router with ``POST /v1/chat/completions`` and ``GET /v1/models`` backed by ``llm``.

    ``llm`` sets the pacing, fault injection and spend counters (a new ``MockLLM()``
    by default); ``models`` are the names clients may ask for (the mock price
    table's by default); ``stats`` receives the endpoint's counters. The API key
    is not checked: the endpoint is keyless, for a server bound to 127.0.0.1.
    """
    if llm is not None and not isinstance(llm, MockLLM):
        raise TypeError(f"llm must be a MockLLM, got {type(llm).__name__}")
    model_names = sorted(PRICES) if models is None else list(models)
    if not model_names or not all(isinstance(m, str) and m for m in model_names):
        raise ValueError(f"models must be a non-empty list of model names, got {models!r}")
    mock = llm if llm is not None else MockLLM()
    counters = stats if stats is not None else CompletionStats()
    router = APIRouter(prefix="/v1", tags=["openai-compatible"])

    def _model(name: str) -> Model:
        return Model(id=name, object="model", created=0, owned_by="labsupport")

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
            run = _Run(_plan(parsed, mock), mock, parsed.token_limit)
        except WireError as exc:
            return _refuse(exc, counters)
        if not parsed.stream:
            try:
                return await _complete(run, parsed.model, counters)
            except MockModelError as exc:
                counters.add("completions_failed")
                failure = WireError(500, str(exc), type="server_error", code="model_error")
                return JSONResponse(failure.body.model_dump(), status_code=failure.status)
        include_usage = parsed.stream_options is not None and parsed.stream_options.include_usage
        return StreamingResponse(
            _sse(run, parsed.model, include_usage, counters),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )

    return router


def _unknown_model(name: str, served: Sequence[str]) -> WireError:
    return WireError(
        404,
        f"The model {name!r} does not exist; this endpoint serves {', '.join(served)}.",
        param="model",
        code="model_not_found",
    )
