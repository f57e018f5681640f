"""The runs one worker drives with the Redis store: their leases, and readers who left.

A worker holds a *lease* on each run it drives, a Redis key that lapses unless
renewed: every ``lease_ms / 3`` the worker renews all of them in one pipeline.
A worker that dies stops renewing, and the next reader of its runs (on any
worker) sees the lease gone and ends the run with ``run_lost``
(``labsupport.redis_stream``).

The same renewal learns, per run, whether some connection reads it now. A
resumable run nobody reads is *parked*; if nobody comes back within ``grace``
seconds it is marked expired (a late resume gets 410) and cancelled with
``resume_timeout``, as lesson 7's in-process runs are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from redis.exceptions import RedisError

from .live_run import RunCounters
from .redis_log import RunLog
from .redis_run import RedisRun

__all__ = ["WorkerRuns"]


class WorkerRuns:
    """The runs this worker drives, by id, kept alive in Redis while they run."""

    def __init__(
        self,
        log: RunLog,
        counters: RunCounters,
        *,
        lease_ms: int,
        grace: float,
        spawn: Callable[[Coroutine[Any, Any, object]], None],
    ) -> None:
        self.log = log
        self.counters = counters
        self.lease_ms = lease_ms
        self.grace = grace
        self._spawn = spawn  # starts a task the store cancels when it closes
        self._runs: dict[str, RedisRun] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[RedisRun]:
        return iter(list(self._runs.values()))

    def get(self, run_id: str) -> RedisRun | None:
        """The run if this worker drives it (it may have just ended)."""
        return self._runs.get(run_id)

    def running(self, run_id: str) -> RedisRun | None:
        """The run if this worker drives it and it has not ended."""
        run = self._runs.get(run_id)
        return run if run is not None and run.outcome is None else None

    def add(self, run: RedisRun) -> None:
        """Keep ``run``'s lease from now until it ends."""
        self._runs[run.run_id] = run
        self._spawn(self._forget_when_ended(run))

    async def _forget_when_ended(self, run: RedisRun) -> None:
        await run.ended.wait()
        self._runs.pop(run.run_id, None)
        if run.unread_since is not None:  # it ended while parked
            run.unread_since = None
            self.counters.runs_parked -= 1

    async def renew_forever(self) -> None:
        """Renew the leases every third of a lease; park and expire the runs nobody reads."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            runs = [run for run in self._runs.values() if run.outcome is None]
            if not runs:
                continue
            try:
                read = await self.log.renew([run.run_id for run in runs], self.lease_ms)
            except (RedisError, OSError):
                continue  # the runs' own appends fail and end them
            now = loop.time()
            for run, has_reader in zip(runs, read, strict=True):
                self.check_parked(run, has_reader, now)

    def check_parked(self, run: RedisRun, has_reader: bool, now: float) -> None:
        """Note whether ``run`` has a reader at ``now``; expire it after ``grace`` without."""
        counters = self.counters
        if has_reader or not run.resumable:
            if run.unread_since is not None:
                run.unread_since = None
                counters.runs_parked -= 1
            return
        if run.unread_since is None:
            run.unread_since = now
            counters.runs_parked += 1
        elif now - run.unread_since >= self.grace:
            run.unread_since = None
            counters.runs_parked -= 1
            counters.runs_expired += 1
            self._spawn(self._expire(run))

    async def _expire(self, run: RedisRun) -> None:
        with contextlib.suppress(RedisError):
            await self.log.mark_expired(run.run_id)
        await run.cancel("resume_timeout", "nobody reconnected within the grace period")
