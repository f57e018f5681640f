"""The apps the benchmarks compare: the lab server and three baselines sending the same events.

Every app answers ``POST /chat/stream`` (JSON body ``{"message": ...}``) with the
events of one lab run as SSE, and ``GET /bench/runs`` with what its generators
recorded (tokens produced, when their ``finally`` ran), so a client in another
process can see the server side of a stream.

- ``lab``: ``labsupport.server.create_app`` with a ``LongAnswerLLM`` of the wanted
  size and pacing; the events are made live by the real agent.
- ``starlette``: a bare Starlette ``StreamingResponse`` yielding pre-formatted
  bytes: the ceiling of this stack, nothing is computed per event.
- ``fastapi``: FastAPI's native ``response_class=EventSourceResponse`` route,
  yielding ``ServerSentEvent(raw_data=...)`` items it frames itself.
- ``sse_starlette``: sse-starlette's ``EventSourceResponse`` with ``sep="\\n"``.

The baselines send the bytes the agent would send for the same answer (a fixed
run id), on the same schedule when paced. An app is described by a small JSON
spec so that ``_serve.py`` can build it in a process of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi import sse as fastapi_sse
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sse_starlette import EventSourceResponse as SseStarletteResponse
from sse_starlette import ServerSentEvent as SseStarletteEvent
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from labsupport.agent import achat_stream, chat_stream
from labsupport.agent_api import MockAgent
from labsupport.auth import token_from_env
from labsupport.events import Event, TokenEvent
from labsupport.longanswer import LongAnswerLLM
from labsupport.server import ServerSettings, create_app
from labsupport.sse import STREAM_HEADERS, encode_event

__all__ = ["KINDS", "QUESTION", "build_app", "payload_events"]

KINDS = ("lab", "starlette", "fastapi", "sse_starlette")
QUESTION = "Tell me everything about Kestrel"
_RUN_ID = "run_0123456789ab"


def _llm(spec: dict[str, Any]) -> LongAnswerLLM:
    return LongAnswerLLM(
        answer_tokens=int(spec["answer_tokens"]),
        ttft=0.0,
        tool_delay=0.0,
        tokens_per_second=spec.get("tokens_per_second"),
    )


def payload_events(answer_tokens: int) -> list[Event]:
    """The events of one unpaced run with an answer of ``answer_tokens`` tokens."""
    llm = LongAnswerLLM.instant(answer_tokens=answer_tokens)
    return list(chat_stream(QUESTION, llm=llm, run_id=_RUN_ID))


class _Ask(BaseModel):
    message: str


class _Recorder:
    """What the generators of one app did, for ``GET /bench/runs``."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def record(self, tokens: int) -> None:
        self.runs.append({"tokens": tokens, "finally_at": time.monotonic()})


class _RecordingAgent(MockAgent):
    """The mock agent, noting after each run how many tokens its model made."""

    def __init__(self, llm: LongAnswerLLM, recorder: _Recorder) -> None:
        super().__init__(llm)
        self._recorder = recorder

    async def stream(self, question: str, *, k: int, run_id: str) -> AsyncIterator[Event]:
        inner = achat_stream(question, llm=self.llm, k=k, run_id=run_id)
        before = self.llm.tokens_generated
        try:
            async for event in inner:
                yield event
        finally:
            # The agent's own finally (the model stops billing) runs inside this aclose.
            await inner.aclose()
            self._recorder.record(self.llm.tokens_generated - before)


def _lab_app(spec: dict[str, Any], recorder: _Recorder) -> Any:
    llm = _llm(spec)
    agent = _RecordingAgent(llm, recorder) if spec.get("record") else MockAgent(llm)
    store = spec.get("run_store", "memory")  # a Redis URL: runs go through Redis (lesson 8)
    # Workers behind one nginx share the secret their parent put in $LAB_TOKEN.
    app = create_app(ServerSettings(llm=llm, run_store=store), agent=agent, token=token_from_env())

    @app.get("/bench/runs")
    async def runs() -> list[dict[str, Any]]:
        return recorder.runs

    return app


def _schedule(spec: dict[str, Any]) -> tuple[list[Event], Iterator[Event] | None, float]:
    """The baseline's events: a list (short answers), or a lazy iterator (huge ones)."""
    rate = spec.get("tokens_per_second")
    gap = 0.0 if rate is None else 1.0 / float(rate)
    tokens = int(spec["answer_tokens"])
    if tokens <= 50_000:
        return payload_events(tokens), None, gap
    head = payload_events(1)[:-3]  # everything before the first token

    def lazy() -> Iterator[Event]:
        yield from head
        seq = len(head)
        for i in range(tokens):
            yield TokenEvent(run_id=_RUN_ID, seq=seq + i, text=f" w{i % 97}")

    return [], lazy(), gap


async def _paced(
    events: list[Event] | Iterator[Event], gap: float, recorder: _Recorder
) -> AsyncIterator[Event]:
    """The events on the agent's schedule: token i at start + i * gap, the rest at once."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tokens = 0
    unpaced = 0
    try:
        for event in events:
            if event.type == "token":
                if gap and tokens:
                    delay = start + tokens * gap - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                tokens += 1
            yield event
            unpaced += 1
            if not gap and unpaced % 16 == 0:
                await asyncio.sleep(0)  # as the agent does: let the loop serve others
    finally:
        recorder.record(tokens)


def _baseline_app(kind: str, spec: dict[str, Any], recorder: _Recorder) -> Any:
    events, lazy, gap = _schedule(spec)
    encoded = [encode_event(e) for e in events]

    async def read_body(request: Request) -> None:
        await request.json()  # the same request work as the lab server's body check

    def source() -> list[Event] | Iterator[Event]:
        if lazy is None:
            return events
        _, fresh, _ = _schedule(spec)
        assert fresh is not None
        return fresh

    if kind == "starlette":

        async def body() -> AsyncIterator[bytes]:
            if lazy is None and not gap:
                # Pre-formatted bytes, nothing else: the ceiling of this stack.
                try:
                    for i, chunk in enumerate(encoded):
                        yield chunk
                        if i % 16 == 15:
                            await asyncio.sleep(0)
                finally:
                    recorder.record(sum(1 for e in events if e.type == "token"))
                return
            async for event in _paced(source(), gap, recorder):
                yield encode_event(event)

        async def stream(request: Request) -> StreamingResponse:
            await read_body(request)
            return StreamingResponse(body(), headers=STREAM_HEADERS, media_type="text/event-stream")

        async def runs(request: Request) -> JSONResponse:
            return JSONResponse(recorder.runs)

        return Starlette(
            routes=[
                Route("/chat/stream", stream, methods=["POST"]),
                Route("/bench/runs", runs, methods=["GET"]),
            ]
        )

    if kind == "fastapi":
        app = FastAPI()

        # The body is declared, not read in the generator: FastAPI parses it before streaming.
        @app.post("/chat/stream", response_class=fastapi_sse.EventSourceResponse)
        async def fastapi_stream(ask: _Ask) -> AsyncIterator[fastapi_sse.ServerSentEvent]:
            async for event in _paced(source(), gap, recorder):
                yield fastapi_sse.ServerSentEvent(
                    raw_data=event.to_json(), event=event.type, id=f"{event.run_id}:{event.seq}"
                )

        @app.get("/bench/runs")
        async def fastapi_runs() -> list[dict[str, Any]]:
            return recorder.runs

        return app

    if kind == "sse_starlette":

        async def items() -> AsyncIterator[SseStarletteEvent]:
            async for event in _paced(source(), gap, recorder):
                yield SseStarletteEvent(
                    data=event.to_json(),
                    event=event.type,
                    id=f"{event.run_id}:{event.seq}",
                    sep="\n",
                )

        async def sse_stream(request: Request) -> SseStarletteResponse:
            await read_body(request)
            return SseStarletteResponse(items(), sep="\n", headers=STREAM_HEADERS)

        async def sse_runs(request: Request) -> JSONResponse:
            return JSONResponse(recorder.runs)

        return Starlette(
            routes=[
                Route("/chat/stream", sse_stream, methods=["POST"]),
                Route("/bench/runs", sse_runs, methods=["GET"]),
            ]
        )

    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def build_app(spec: dict[str, Any]) -> Any:
    """The ASGI app a spec describes: ``{"kind", "answer_tokens", "tokens_per_second", "record"}``.

    A lab spec may add ``"run_store"`` (a Redis URL); ``"label"`` names a server in the results.
    """
    kind = spec["kind"]
    recorder = _Recorder()
    if kind == "lab":
        return _lab_app(spec, recorder)
    return _baseline_app(kind, spec, recorder)
