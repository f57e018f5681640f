"""A run whose events go to Redis: the agent runs in this worker, its readers may be anywhere.

The worker that starts a run pulls the agent's events, encodes each for the
wire and appends it to the run's stream (``labsupport.redis_log``). It keeps
nothing itself: every reader, on this worker or another, reads the stream.
Cancelling stops the agent (its ``finally`` runs, the model stops billing) and
appends an ``error`` event; if someone else ended the run first, the append is
refused and the cancel says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from .events import TERMINAL_TYPES, ErrorEvent, Event
from .live_run import Outcome, RunCounters
from .redis_log import RunLog
from .sse import WireEncoder

__all__ = ["RedisRun"]


class RedisRun:
    """One run this worker drives: the agent's events appended to ``log``, once each."""

    def __init__(
        self,
        run_id: str,
        message: str,
        events: AsyncIterator[Event],
        encoder: WireEncoder,
        *,
        resumable: bool,
        log: RunLog,
        counters: RunCounters,
    ) -> None:
        self.run_id = run_id
        self.message = message
        self.encoder = encoder
        self.resumable = resumable
        self.outcome: Outcome | None = None
        self.next_seq = 0
        self.unread_since: float | None = None  # parked: no reader since then
        self._events = events
        self._log = log
        self._counters = counters
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.ended = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._counters.runs_started += 1
            self._task = asyncio.get_running_loop().create_task(
                self._produce(), name=f"run {self.run_id}"
            )

    async def _append(self, event: Event, outcome: Outcome | None = None) -> bool:
        data = self.encoder.encode(event)
        if outcome is None and event.type in TERMINAL_TYPES:
            outcome = "completed" if event.type == "done" else "failed"
        if not await self._log.append(self.run_id, event.seq, data, outcome):
            self._end("failed")  # ended by another worker (the run was declared lost)
            return False
        self.next_seq = event.seq + 1
        if outcome is not None:
            self._end(outcome)
        return True

    def _end(self, outcome: Outcome) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        counters = self._counters
        if outcome == "completed":
            counters.runs_completed += 1
        elif outcome == "failed":
            counters.runs_failed += 1
        else:
            counters.runs_cancelled += 1
        counters.active_runs -= 1
        self.ended.set()

    def _error(self, code: str, message: str) -> ErrorEvent:
        return ErrorEvent(run_id=self.run_id, seq=self.next_seq, code=code, message=message)

    async def _produce(self) -> None:
        try:
            async for event in self._events:
                if not await self._append(event) or self.outcome is not None:
                    return
            await self._append(self._error("internal_error", "the agent stopped without an end"))
        except asyncio.CancelledError:
            raise
        except RedisError:
            # The store is gone: nobody can read what we append, so stop paying for it.
            self._end("failed")
        except Exception as exc:  # a bug in the agent or encoder must still end the run
            if self.outcome is None:
                await self._append(self._error("internal_error", f"{type(exc).__name__}: {exc}"))
        finally:
            await self._close_agent()

    async def _close_agent(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            # Closing runs the agent's ``finally``: the model stops and bills no more.
            await asyncio.shield(aclose())

    async def cancel(self, code: str, message: str) -> bool:
        """Stop the agent now and end the stream with an ``error`` event; False if it had ended."""
        if self.outcome is not None:
            return False
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        await self._close_agent()
        if self.outcome is not None:  # it finished while we waited for it to stop
            return False
        try:
            appended = await self._append(self._error(code, message), "cancelled")
        except RedisError:
            self._end("cancelled")  # the agent is stopped; the store will not hear of it
            return True
        return appended
