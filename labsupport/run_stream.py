"""The HTTP response that writes one run to one connection.

The run itself (the agent, its buffer) lives in ``labsupport.live_run``; this
response only writes it out, sends keep-alives while the run is silent, and
tells the run when its client goes away. It is a plain ASGI response, like
starlette's ``StreamingResponse``, but it watches for the disconnect itself so
that the run stops (or parks) the moment the client leaves.
"""

from __future__ import annotations

import asyncio

from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from .live_run import Run
from .run_registry import RunRegistry
from .sse import KEEPALIVE, STREAM_HEADERS

__all__ = ["RunStream"]


class RunStream(Response):
    """One connection reading ``run`` from event index ``cursor`` on.

    ``registry`` is told when the stream opens and closes (for ``/stats``);
    ``keepalive_seconds`` is the longest silence before a keep-alive comment.
    """

    def __init__(
        self,
        registry: RunRegistry,
        run: Run,
        cursor: int,
        *,
        keepalive_seconds: float,
        resumed: bool = False,
    ) -> None:
        self._registry = registry
        self._run = run
        self._cursor = cursor
        self._keepalive_seconds = keepalive_seconds
        self._resumed = resumed
        self.status_code = 200
        self.media_type = run.encoder.media_type
        self.background = None
        self.init_headers({**STREAM_HEADERS, **run.encoder.headers, "X-Run-ID": run.run_id})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        run = self._run
        reader = run.attach(self._cursor)
        self._registry.stream_opened(resumed=self._resumed)
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
            finished = await run.pump(reader, write, KEEPALIVE, self._keepalive_seconds)
            if not reader.gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self._registry.stream_closed()
            # Shielded: a cancelled request still closes the agent or parks the run.
            await asyncio.shield(run.detach(reader, finished=finished))
