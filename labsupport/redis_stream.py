"""The HTTP response that writes a run kept in Redis to one connection, on any worker.

It reads the run's stream after the last event its client has (``XREAD BLOCK``),
writes what arrives in one send, and stops at the run's last event. While the
stream is silent it sends keep-alives and checks that a worker still holds the
run's lease; if none does, the run is lost and this reader appends its end, an
``error`` event with code ``run_lost``, for every reader at once. If Redis itself
stops answering, this connection ends with an ``error`` event (``store_unavailable``)
and the server goes on serving.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from fastapi.responses import Response
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from .events import ErrorEvent
from .request_checks import problem
from .run_errors import StoreUnavailable
from .sse import KEEPALIVE, STREAM_HEADERS, WireEncoder

if TYPE_CHECKING:
    from .live_run import RunCounters
    from .redis_leases import WorkerRuns
    from .redis_log import Entry, RunLog
    from .redis_run import RedisRun
    from .redis_tail import Tail

__all__ = ["RedisRunStream", "StreamStore"]


class StreamStore(Protocol):
    """What a stream needs of its run store (``labsupport.redis_store.RedisStore``)."""

    worker: str
    lease_ms: int
    counters: RunCounters
    log: RunLog
    tail: Tail
    here: WorkerRuns

    async def open(self) -> None: ...
    async def begin(self, run: RedisRun) -> None: ...
    def unavailable(self, exc: BaseException) -> str: ...
    async def cancel_here(self, run_id: str, code: str, message: str) -> bool: ...


class _Gone(Exception):
    """The client went away while we wrote to it."""


class RedisRunStream(Response):
    """One connection reading run ``run_id`` after event ``after`` (``-1``: from the first).

    ``run`` is given when this connection starts the run: the run is recorded in
    Redis and its agent started before the first byte is read back. ``has_all``:
    the client already has the run's last event, so the stream ends at once.
    """

    def __init__(
        self,
        store: StreamStore,
        run_id: str,
        after: int,
        encoder: WireEncoder,
        *,
        resumable: bool,
        keepalive_seconds: float,
        run: RedisRun | None = None,
        has_all: bool = False,
        token: str | None = None,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._after = after
        self._encoder = encoder
        self._resumable = resumable
        self._keepalive = keepalive_seconds
        self._run = run
        self._has_all = has_all
        self._gone = False
        self._token = token or uuid.uuid4().hex  # this connection's claim as the run's reader
        self.status_code = 200
        self.media_type = encoder.media_type
        self.background = None
        headers = {**STREAM_HEADERS, **encoder.headers, "X-Run-ID": run_id}
        self.init_headers({**headers, "X-Lab-Worker": store.worker})

    async def _claim(self) -> None:
        store, run = self._store, self._run
        await store.open()
        if run is not None:
            await store.begin(run)
        elif self._resumable:
            await store.log.claim_reader(self._run_id, self._token, store.lease_ms)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        store = self._store
        try:
            await self._claim()
        except (RedisError, StoreUnavailable) as exc:
            await problem(503, store.unavailable(exc))(scope, receive, send)
            return
        store.counters.active_streams += 1
        if self._run is None:
            store.counters.runs_resumed += 1

        async def write(body: bytes) -> None:
            try:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            except OSError:  # the client is gone; uvicorn raises on some paths
                raise _Gone from None

        finished = False
        pump = asyncio.get_running_loop().create_task(self._pump(write))
        watcher = asyncio.get_running_loop().create_task(self._wait_disconnect(receive, pump))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await asyncio.wait({pump})  # cancelled by the watcher when the client leaves
            if not self._gone and not pump.cancelled() and not isinstance(pump.exception(), _Gone):
                finished = pump.result()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            pump.cancel()
            watcher.cancel()
            store.counters.active_streams -= 1
            # Shielded: a cancelled request still stops or parks the run.
            await asyncio.shield(self._detach(finished))

    async def _wait_disconnect(self, receive: Receive, pump: asyncio.Task[bool]) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        # Both: redis-py may turn a cancel during a command into a connection error.
        self._gone = True
        pump.cancel()

    async def _detach(self, finished: bool) -> None:
        store = self._store
        if finished:
            return
        store.counters.streams_dropped += 1
        try:
            if self._resumable:
                await store.log.drop_reader(self._run_id, self._token)
            else:  # nobody can come back for it: stop the spend now
                await store.cancel_here(self._run_id, "cancelled", "the client disconnected")
        except RedisError:
            pass  # the lease and the reader's claim lapse by themselves

    def _error(self, seq: int, code: str, message: str) -> bytes:
        return self._encoder.encode(
            ErrorEvent(run_id=self._run_id, seq=seq, code=code, message=message)
        )

    async def _pump(self, write: Callable[[bytes], Awaitable[None]]) -> bool:
        """Write the run from ``after`` on; True when its last event was written."""
        store, log, run_id = self._store, self._store.log, self._run_id
        loop = asyncio.get_running_loop()
        check_every = store.lease_ms / 2000
        wait = min(self._keepalive, check_every)
        stream = log.keys(run_id).stream
        cursor = self._after
        if self._has_all:
            return True
        last_write = last_check = loop.time()
        while not self._gone:
            try:
                entries = await self._next(stream, cursor, wait)
            except RedisError as exc:
                await write(self._error(cursor + 1, "store_unavailable", store.unavailable(exc)))
                return True
            now = loop.time()
            if entries:
                if entries[0].seq != cursor + 1:  # trimmed while this reader lagged behind
                    message = f"events after seq {cursor} were dropped: the replay limit is {log.max_events}"
                    await write(self._error(cursor + 1, "replay_gone", message))
                    return True
                await write(b"".join(entry.data for entry in entries))
                cursor, last_write = entries[-1].seq, now
                if entries[-1].outcome is not None:
                    return True
            elif now - last_write >= self._keepalive:
                await write(KEEPALIVE)
                last_write = now
            if now - last_check >= check_every:
                last_check = now
                verdict = await self._still_mine(cursor, quiet=not entries)
                if isinstance(verdict, bytes):
                    await write(verdict)
                    return True
                if not verdict:
                    return False
        return False

    async def _next(self, stream: str, cursor: int, wait: float) -> list[Entry]:
        """What follows ``cursor``: from the run itself if this worker drives it, else Redis."""
        run = self._run or self._store.here.running(self._run_id)
        if run is not None:
            entries = await run.next_entries(cursor, wait)
            if entries is not None:
                return entries
        return await self._store.tail.read(stream, cursor, wait)

    async def _still_mine(self, cursor: int, *, quiet: bool) -> bool | bytes:
        """True: carry on; False: a newer reader took the run; bytes: end the stream with them.

        Renews this reader's claim, and ends a run whose worker's lease lapsed.
        """
        store, log, run_id = self._store, self._store.log, self._run_id
        vanished = self._error(
            cursor + 1, "run_lost", "the run store no longer holds this run (was it restarted?)"
        )
        try:
            # A run this worker drives is alive whatever its lease says: a busy event
            # loop may renew late, and that must not end the run under its own reader.
            mine = store.here.running(run_id) is not None
            if quiet and not mine and not await log.alive(run_id):
                error = self._error(cursor + 1, "run_lost", "the worker running it stopped")
                appended = await log.append_if_lost(run_id, cursor, error, "failed")
                if not appended and not await log.known(run_id):
                    return vanished
            if self._resumable and not await log.renew_reader(run_id, self._token, store.lease_ms):
                return vanished if not await log.known(run_id) else False
        except RedisError:
            pass  # the next read says so to the client
        return True
