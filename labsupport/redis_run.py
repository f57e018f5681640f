"""A run whose events go to Redis: the agent runs in this worker, its readers may be anywhere.

The worker that starts a run pulls the agent's events, encodes each for the
wire and appends it to the run's stream (``labsupport.redis_log``). It keeps
only its last ``KEPT`` events, for readers here; readers elsewhere read the stream.
Appends go out in batches: while one round trip to Redis is under way, the
events the agent makes meanwhile wait and go together in the next, so a fast
answer costs a round trip per batch, not per token (as lesson 7's buffer writes
everything waiting in one send). The agent waits when ``MAX_PENDING`` events wait.
A reader on this worker gets each batch from the run as soon as Redis confirms
it (``next_entries``), without reading it back: the entries are exactly those
stored under their ``seq``, so a resume on any worker reads the same bytes.
Cancelling stops the agent (its ``finally`` runs, the model stops billing) and
appends an ``error`` event; if someone else ended the run first, the append is
refused and the cancel says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from .events import TERMINAL_TYPES, ErrorEvent, Event
from .live_run import Outcome, RunCounters, stop_agent
from .redis_log import Entry, NewRun, RunLog
from .sse import WireEncoder

__all__ = ["KEPT", "MAX_PENDING", "RedisRun"]

# Events made but not yet in Redis, at most: a stalled Redis slows the agent down.
MAX_PENDING = 512
# Events a run keeps after Redis confirmed them, for readers here that fall behind.
KEPT = 1024
# The agent yields to the loop after each of its first events until a reader here has one.
_EAGER_EVENTS = 64


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
        new: NewRun,
    ) -> None:
        self.run_id = run_id
        self.message = message
        self.encoder = encoder
        self.resumable = resumable
        self.outcome: Outcome | None = None
        self.next_seq = 0
        self.appended = -1  # the last seq Redis confirmed
        self.unread_since: float | None = None  # parked: no reader since then
        self.ended = asyncio.Event()
        self._events = events
        self._log = log
        self._counters = counters
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._pending: list[Entry] = []
        self._waiting = asyncio.Event()  # something is pending
        self._room = asyncio.Event()  # the pending batch was taken
        self._last_queued = False
        self._closed = False
        self._readers: list[asyncio.Future[list[Entry] | None]] = []
        self._new: NewRun | None = new  # until the first batch records the run
        # The last events Redis confirmed, in order: a reader here that fell a little
        # behind (writing to a slow client) catches up from them without a read.
        self._kept: list[Entry] = []
        self._read_once = False  # a reader here has had events
        self.recorded: asyncio.Future[None] | None = None

    def start(self) -> asyncio.Future[None]:
        """Start the agent; the future is done once Redis holds the run (with its first events).

        The run is recorded by the round trip that appends its first batch, so starting a
        run costs no round trip of its own. The future fails if Redis does not answer.
        """
        loop = asyncio.get_running_loop()
        if self.recorded is None:
            self.recorded = loop.create_future()
            self._task = loop.create_task(self._produce(), name=f"run {self.run_id}")
        return self.recorded

    async def abandon(self) -> None:
        """Stop a run whose start failed: the agent stops, nothing more is appended or counted."""
        self.outcome = "failed"
        self._hand_over(None)
        self.ended.set()
        for task in (self._task, self._flusher):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
        await self._close_agent()

    # --- appending, in batches ------------------------------------------------------

    def _queue(self, event: Event, outcome: Outcome | None = None) -> None:
        if outcome is None and event.type in TERMINAL_TYPES:
            outcome = "completed" if event.type == "done" else "failed"
        self._pending.append(Entry(event.seq, self.encoder.encode(event), outcome))
        self.next_seq = event.seq + 1
        self._last_queued = outcome is not None
        self._waiting.set()
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Send what is pending, a batch per round trip, until the last event is in."""
        try:
            while True:
                await self._waiting.wait()
                self._waiting.clear()
                batch, self._pending = self._pending, []
                self._room.set()
                if not batch:
                    continue
                new, self._new = self._new, None
                if not await self._log.append_many(self.run_id, batch, new=new):
                    self._stop("failed")  # another worker declared the run lost
                    return
                self._recorded()
                self.appended = batch[-1].seq
                self._keep(batch)
                if self._readers:
                    self._hand_over(batch)
                    await asyncio.sleep(0)  # let them write before the next batch is packed
                if batch[-1].outcome is not None:
                    self._end(batch[-1].outcome)
                    return
        except RedisError as exc:
            if self.recorded is not None and not self.recorded.done():
                self.recorded.set_exception(exc)  # the run's start fails: 503, and ``abandon``
                return
            # The store is gone: nobody can read what we append, so stop paying for it.
            self._stop("failed")

    def _recorded(self) -> None:
        if self.recorded is not None and not self.recorded.done():
            self.recorded.set_result(None)

    def _stop(self, outcome: Outcome) -> None:
        self._end(outcome)
        if self._task is not None and not self._task.done():
            self._task.cancel()

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
        self._room.set()
        if self.recorded is not None and not self.recorded.done():  # its first append failed
            self.recorded.set_exception(RedisError(f"run {self.run_id} was not recorded"))
        self._hand_over(None)
        self.ended.set()

    # --- readers on this worker ------------------------------------------------------

    async def next_entries(self, after: int, timeout: float) -> list[Entry] | None:
        """The next batch once Redis holds it, if it follows event ``after``; ``[]`` after ``timeout``.

        A reader whose next event was appended already gets it, and all after it, from
        the last ``KEPT`` events at once. None: ask Redis instead (the reader is further
        behind, or the run ended), so a reader never skips an event nor gets one twice.
        """
        kept = self._kept
        if kept:
            i = after + 1 - kept[0].seq
            if 0 <= i < len(kept) and kept[i].seq == after + 1:
                self._read_once = True
                return kept[i:]
        if self.outcome is not None or self.appended != after:
            return None
        future: asyncio.Future[list[Entry] | None] = asyncio.get_running_loop().create_future()
        self._readers.append(future)
        try:
            entries = await asyncio.wait_for(future, timeout)
            self._read_once = True
            return entries
        except TimeoutError:
            return []
        finally:
            if future in self._readers:
                self._readers.remove(future)

    def _keep(self, batch: list[Entry]) -> None:
        kept = self._kept
        kept += batch
        if len(kept) > KEPT:
            del kept[: len(kept) - KEPT]

    def _hand_over(self, entries: list[Entry] | None) -> None:
        readers, self._readers = self._readers, []
        for future in readers:
            if not future.done():
                future.set_result(entries)

    def _error(self, code: str, message: str) -> ErrorEvent:
        return ErrorEvent(run_id=self.run_id, seq=self.next_seq, code=code, message=message)

    # --- the agent ------------------------------------------------------------------

    async def _produce(self) -> None:
        try:
            async for event in self._events:
                self._queue(event)
                if self._last_queued:
                    return
                while len(self._pending) >= MAX_PENDING and self.outcome is None:
                    self._room.clear()
                    await self._room.wait()
                if not self._read_once and event.seq < _EAGER_EVENTS:
                    # Until a reader here has its first event, give the loop a turn per event:
                    # the first append goes out, its reply is read and the reader writes it
                    # while the agent goes on, instead of after the agent's whole burst.
                    await asyncio.sleep(0)
            self._queue(self._error("internal_error", "the agent stopped without an end"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the agent or encoder must still end the run
            if not self._last_queued:
                self._queue(self._error("internal_error", f"{type(exc).__name__}: {exc}"))
        finally:
            await self._close_agent()

    async def _close_agent(self) -> None:
        if self._closed:
            return
        self._closed = True
        await stop_agent(self._events)

    async def cancel(self, code: str, message: str) -> bool:
        """Stop the agent now and end the stream with an ``error`` event; False if it had ended."""
        if self.outcome is not None or self._last_queued:
            return False
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        await self._close_agent()
        if self.outcome is not None or self._last_queued:  # it ended while we stopped it
            return False
        self._queue(self._error(code, message), "cancelled")
        await self.ended.wait()
        return self.outcome == "cancelled"
