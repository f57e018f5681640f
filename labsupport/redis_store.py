"""Runs kept in Redis, so several workers behind a load balancer serve them as one server.

    >>> store = RedisStore("redis://127.0.0.1:6379/0")   # doctest: +SKIP
    >>> create_app(ServerSettings(run_store="redis://127.0.0.1:6379/0"))   # doctest: +SKIP

The worker that starts a run drives its agent (``labsupport.redis_run``) and
appends every event to the run's Redis stream (``labsupport.redis_log``). Any
worker serves a reader (``labsupport.redis_stream``): a resume on another worker
reads the same stream after the client's ``Last-Event-ID``. What lesson 7 did in
one process maps onto Redis like this:

- the replay limit ``replay_events`` trims the stream; an ended run's keys expire
  ``replay_seconds`` later; a resume from before the oldest kept event is 410;
- each worker renews a *lease* on the runs it drives (``labsupport.redis_leases``);
  a run whose lease lapses (its worker died) is ended by its next reader with an
  ``error`` event ``run_lost``, so no reader waits forever;
- cancel reaches the driving worker over Redis pub/sub, whichever worker got the
  request; a resumable run whose reader left and did not come back within
  ``grace`` seconds is cancelled by its worker (``resume_timeout``), as before;
- ``max_active_runs`` and ``/stats`` are **per worker**: two workers take up to twice
  the cap, and ``/stats`` counts whichever worker answered (``X-Lab-Worker`` on a stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi.responses import Response
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from .events import Event
from .live_run import RunCounters, RunLimits
from .redis_cancel import cancel_elsewhere, listen_for_cancels
from .redis_leases import WorkerRuns
from .redis_log import NewRun, RunLog
from .redis_run import RedisRun
from .redis_stream import RedisRunStream
from .redis_tail import Tail
from .run_errors import RunConflict, RunGone, StoreUnavailable, TooManyRuns, UnknownRun
from .run_registry import DEFAULT_MAX_ACTIVE_RUNS, take_slot
from .sse import LabEncoder, WireEncoder

__all__ = ["DEFAULT_LEASE_SECONDS", "RedisStore", "shown_url"]

# Long enough that a busy event loop renews in time, short enough that a reader of a dead
# worker's run hears of it within a few seconds (at most about 1.5 leases).
DEFAULT_LEASE_SECONDS = 3.0
# Connections per worker: appends are short, and every waiting reader shares one (``Tail``).
_MAX_CONNECTIONS = 64
_POOL_WAIT_SECONDS = 10.0


def shown_url(url: str) -> str:
    """``url`` fit to show: a password in it becomes ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


class RedisStore:
    """The ``RunStore`` whose runs live in the Redis at ``url``, shared by every worker using it."""

    # Only lab streams resume here (by Last-Event-ID); the AI SDK's whole-stream replay
    # would need the chat's latest run shared by the workers too.
    replays_dialects = False

    def __init__(
        self,
        url: str,
        *,
        limits: RunLimits | None = None,
        replay_seconds: float = 60.0,
        max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        prefix: str = "lab:",
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        try:
            # Blocking: a burst of appends waits for a free connection instead of failing.
            # A PING before using a connection idle for a second: after a Redis restart the
            # pooled connections are dead, and the next command should not be the one to find out.
            pool = BlockingConnectionPool.from_url(
                url,
                max_connections=_MAX_CONNECTIONS,
                timeout=_POOL_WAIT_SECONDS,
                health_check_interval=1,
            )
        except ValueError as exc:
            raise ValueError(
                f"run_store is not a Redis URL redis-py accepts: {shown_url(url)!r} ({exc})"
            ) from None
        self.client = Redis(connection_pool=pool)
        self.url = url
        self.limits = limits if limits is not None else RunLimits()
        self.max_active_runs = max_active_runs
        self.lease_ms = round(lease_seconds * 1000)
        self.counters = RunCounters()
        self.worker = uuid.uuid4().hex[:8]  # shown in X-Lab-Worker: which worker answered
        self.log = RunLog(
            self.client,
            prefix=prefix,
            max_events=self.limits.replay_events,
            keep_ms=round(replay_seconds * 1000),
        )
        self._channel = f"{prefix}cancel"
        self.tail = Tail(self.client, f"{prefix}wake:{self.worker}")
        self._tasks: set[asyncio.Task[Any]] = set()
        self.here = WorkerRuns(
            self.log,
            self.counters,
            lease_ms=self.lease_ms,
            grace=self.limits.grace,
            spawn=self._spawn,
        )
        self._opened: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"RedisStore({shown_url(self.url)!r}, runs here={len(self.here)})"

    def unavailable(self, exc: BaseException) -> str:
        """What to tell a client when Redis does not answer."""
        return f"the run store at {shown_url(self.url)} does not answer: {exc}"

    # --- connecting -----------------------------------------------------------

    async def open(self) -> None:
        """Check Redis answers and start this worker's lease and cancel tasks; once."""
        if self._opened is None or (self._opened.done() and self._opened.exception()):
            self._opened = asyncio.get_running_loop().create_task(self._connect())
        await asyncio.shield(self._opened)

    async def _connect(self) -> None:
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(self.unavailable(exc)) from None
        self._spawn(self.here.renew_forever())
        self._spawn(listen_for_cancels(self.client, self._channel, self._cancel_if_here))

    async def aclose(self) -> None:
        for run in self.here:
            with contextlib.suppress(RedisError):
                await run.cancel("server_shutdown", "the server is shutting down")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.tail.aclose()
        await self.client.aclose()

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the RunStore protocol ----------------------------------------------------

    def check_room(self) -> None:
        if self.counters.active_runs >= self.max_active_runs:
            self.counters.runs_refused += 1
            raise TooManyRuns(
                f"this worker already runs {self.counters.active_runs} runs, its limit; retry "
                f"when one ends, or raise it with ServerSettings(max_active_runs=...)"
            )

    def take_slot(self) -> Callable[[], None]:
        return take_slot(self.counters, self.check_room)

    def start(
        self,
        run_id: str,
        message: str,
        events: AsyncIterator[Event],
        encoder: WireEncoder,
        *,
        resumable: bool,
        keepalive_seconds: float,
    ) -> Response:
        reader = uuid.uuid4().hex  # the token of the connection that starts the run
        run = RedisRun(
            run_id,
            message,
            events,
            encoder,
            resumable=resumable,
            log=self.log,
            counters=self.counters,
            new=NewRun(message, resumable, self.lease_ms, reader),
        )
        self.counters.active_runs += 1
        return RedisRunStream(
            self,
            run_id,
            -1,
            encoder,
            resumable=resumable,
            keepalive_seconds=keepalive_seconds,
            run=run,
            token=reader,
        )

    async def begin(self, run: RedisRun) -> None:
        """Record ``run`` in Redis and start its agent; called by the stream that starts it."""
        try:
            await run.start()  # recorded with its first events
        except BaseException:
            counted = run.outcome is not None  # it ended itself, and counted that
            await asyncio.shield(run.abandon())
            self.counters.active_runs -= 0 if counted else 1
            raise
        self.counters.runs_started += 1
        self.here.add(run)

    async def resume(
        self, run_id: str, seq: int, message: str, *, keepalive_seconds: float
    ) -> Response:
        await self.open()
        try:
            meta = await self.log.meta(run_id)
        except RedisError as exc:
            raise StoreUnavailable(self.unavailable(exc)) from None
        if meta is None:
            raise UnknownRun(
                f"run {run_id} is unknown to the run store: it never existed, or it ended more "
                f"than {self.log.keep_ms / 1000:g} s ago and was forgotten"
            )
        if meta.expired:
            raise RunGone(
                f"run {run_id} was cancelled: nobody reconnected within {self.limits.grace:g} s"
            )
        if not meta.resumable:
            raise RunConflict(f"run {run_id} cannot be resumed: it is not a lab stream")
        if meta.message != message:
            raise RunConflict(
                f"Last-Event-ID names run {run_id}, which answers a different message"
            )
        last = meta.last.seq if meta.last else -1
        if seq > last:
            raise RunConflict(
                f"run {run_id} has sent events up to seq {last} only; Last-Event-ID names seq {seq}"
            )
        if meta.first is not None and meta.first.seq > seq + 1:
            raise RunGone(
                f"run {run_id} no longer keeps the events after seq {seq}: the replay "
                f"buffer holds the last {self.limits.replay_events} events"
            )
        # The client has the last event already: nothing follows, so do not wait for more.
        has_all = meta.last is not None and meta.last.outcome is not None and seq == last
        return RedisRunStream(
            self,
            run_id,
            seq,
            LabEncoder(),
            resumable=True,
            keepalive_seconds=keepalive_seconds,
            has_all=has_all,
        )

    async def replay(self, run_id: str, *, keepalive_seconds: float) -> Response:
        raise UnknownRun(f"run {run_id}: this run store replays lab streams only")

    def cancel_requested(self) -> None:
        self.counters.cancel_requests += 1

    def cancel_all(self, code: str, message: str) -> None:
        for run in self.here:
            self._spawn(run.cancel(code, message))

    async def cancel_here(self, run_id: str, code: str, message: str) -> bool:
        """Cancel the run if this worker drives it; False if not here or already ended."""
        run = self.here.get(run_id)
        return run is not None and await asyncio.shield(run.cancel(code, message))

    async def cancel(self, run_id: str, code: str, message: str) -> tuple[str, int]:
        run = self.here.get(run_id)
        if run is not None:
            if not await asyncio.shield(run.cancel(code, message)):
                raise RunConflict(f"run {run_id} already ended: {run.outcome}")
            return "cancelled", run.next_seq
        await self.open()
        try:
            return await cancel_elsewhere(
                self.log, self._channel, run_id, code, message, wait_ms=self.lease_ms // 2
            )
        except RedisError as exc:
            raise StoreUnavailable(self.unavailable(exc)) from None

    def _cancel_if_here(self, run_id: str) -> None:
        run = self.here.get(run_id)
        if run is not None:
            self._spawn(run.cancel("cancelled", "the run was cancelled on request"))
