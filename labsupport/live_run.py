"""A run that lives on the server, apart from the connection that reads it.

A ``Run`` pulls the agent's events in a task of its own and keeps them, encoded
for the wire, in a ``labsupport.run_buffer.RunBuffer``. A ``Reader`` (one HTTP
response) writes the buffer to its client, everything waiting in one write; a
slow client slows the run down instead of filling memory.

What happens when the reader's connection goes away depends on the run:

- not resumable (the default, lesson 5): the run is cancelled at once and the
  model stops generating, so nobody pays for an answer nobody reads;
- resumable: the run is *parked*. Its last events stay in the buffer, and a
  reconnection that names the last event it got (``Last-Event-ID``) picks up
  right after it: the missed events once, in order, then live. A parked run
  nobody comes back for is cancelled when ``grace`` seconds run out.

An explicit cancel stops the run at once in both modes; the stream then ends
with an ``error`` event whose code is ``cancelled``. A run knows nothing of who
holds it: it counts into ``RunCounters`` and calls ``on_settled`` once it has
ended and nobody reads it (``labsupport.run_registry`` keeps or forgets it then).

>>> RunCounters().runs_started
0
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from .events import TERMINAL_TYPES, ErrorEvent, Event
from .run_buffer import RunBuffer
from .run_errors import RunConflict, RunGone
from .sse import WireEncoder

__all__ = ["Outcome", "Reader", "Run", "RunCounters", "RunLimits", "stop_agent"]

Outcome = Literal["completed", "failed", "cancelled"]

Send = Callable[[bytes], Awaitable[None]]


async def stop_agent(events: AsyncIterator[Event]) -> None:
    """Close the agent's event stream: its ``finally`` runs, so the model stops and bills no more.

    Shielded: a cancelled caller still waits for the agent to be closed.
    """
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await asyncio.shield(aclose())


@dataclass(frozen=True)
class RunLimits:
    """How long a dropped run waits for its client, and how many events it keeps to replay."""

    grace: float = 10.0
    replay_events: int = 10_000


@dataclass
class RunCounters:
    """What ``/stats`` shows about runs and the connections that read them."""

    active_streams: int = 0
    runs_started: int = 0
    runs_completed: int = 0
    runs_cancelled: int = 0
    runs_failed: int = 0
    streams_dropped: int = 0
    runs_parked: int = 0
    runs_resumed: int = 0
    runs_expired: int = 0
    cancel_requests: int = 0
    active_runs: int = 0  # created and not yet settled: running, parked, or being written
    runs_refused: int = 0  # not created: the server was at its cap


@dataclass(eq=False)
class Reader:
    """One connection writing a run to its client, from ``cursor`` on."""

    cursor: int
    gone: bool = False
    superseded: bool = False
    wake: asyncio.Future[None] | None = field(default=None, repr=False)

    def notify(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class Run:
    """One answer in progress (or finished): the agent, its encoded events, its reader."""

    def __init__(
        self,
        run_id: str,
        message: str,
        events: AsyncIterator[Event],
        encoder: WireEncoder,
        *,
        resumable: bool,
        counters: RunCounters | None = None,
        limits: RunLimits | None = None,
        on_settled: Callable[[Run], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.message = message
        self.encoder = encoder
        self.resumable = resumable
        self.outcome: Outcome | None = None
        self.ended_at: float | None = None
        self.expired = False  # cancelled because nobody came back in time
        self.counters = counters if counters is not None else RunCounters()
        self.limits = limits if limits is not None else RunLimits()
        self._on_settled = on_settled
        self._settled = False
        self._expiry: asyncio.Task[bool] | None = None
        self._events = events
        self._buffer = RunBuffer(keep=self.limits.replay_events if resumable else 0)
        self._next_seq = 0
        self._producer: asyncio.Task[None] | None = None
        self._reader: Reader | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._closed = False

    # --- the producer side -------------------------------------------------------

    @property
    def produced(self) -> int:
        """How many events the run has encoded so far."""
        return self._buffer.produced

    def _append(self, event: Event) -> None:
        self._buffer.append(self.encoder.encode(event))
        self._next_seq = event.seq + 1
        if self._reader is not None:
            self._reader.notify()

    def _end(self, outcome: Outcome) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        self.ended_at = asyncio.get_running_loop().time()
        self._cancel_grace()
        counters = self.counters
        if outcome == "completed":
            counters.runs_completed += 1
        elif outcome == "failed":
            counters.runs_failed += 1
        else:
            counters.runs_cancelled += 1
        if self._reader is None:
            self._settle()
        else:
            self._reader.notify()

    def _settle(self) -> None:
        """Tell the holder, once, that the run has ended and nobody reads it."""
        if not self._settled and self.outcome is not None:
            self._settled = True
            if self._on_settled is not None:
                self._on_settled(self)

    def _end_with_error(self, code: str, message: str, outcome: Outcome = "failed") -> None:
        error = ErrorEvent(run_id=self.run_id, seq=self._next_seq, code=code, message=message)
        try:
            self._append(error)
        finally:
            self._end(outcome)

    async def _produce(self) -> None:
        events = self._events
        try:
            async for event in events:
                self._append(event)
                if event.type in TERMINAL_TYPES:
                    self._end("completed" if event.type == "done" else "failed")
                    return
                if self._buffer.full():
                    await self._buffer.wait_for_room()
            self._end_with_error(
                "internal_error", "the agent stopped without a done or error event"
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the agent or encoder must still end the run
            if self.outcome is None:
                self._end_with_error("internal_error", f"{type(exc).__name__}: {exc}")
        finally:
            await self._close_agent()

    async def _close_agent(self) -> None:
        if self._closed:
            return
        self._closed = True
        await stop_agent(self._events)

    def start(self) -> None:
        if self._producer is None:
            self.counters.runs_started += 1
            self._producer = asyncio.get_running_loop().create_task(
                self._produce(), name=f"run {self.run_id}"
            )

    async def cancel(self, code: str, message: str) -> bool:
        """Stop the run now and end its stream with an ``error`` event; False if it had ended."""
        if self.outcome is not None:
            return False
        producer = self._producer
        if producer is not None and not producer.done():
            producer.cancel()
            await asyncio.wait({producer})  # its ``finally`` closes the agent
        await self._close_agent()
        if self.outcome is not None:  # it finished while we waited for it to stop
            return False
        self._end_with_error(code, message, "cancelled")
        return True

    # --- the reader side ---------------------------------------------------------

    @property
    def has_reader(self) -> bool:
        """Whether a connection is writing this run to its client now."""
        return self._reader is not None

    def attach(self, cursor: int) -> Reader:
        """A new reader from event index ``cursor``; an older reader of this run steps aside."""
        old = self._reader
        if old is not None:
            old.superseded = True
            old.notify()
        self._cancel_grace()
        reader = Reader(cursor)
        self._reader = reader
        self._buffer.rewind(cursor)
        self.start()
        return reader

    async def detach(self, reader: Reader, *, finished: bool) -> None:
        """The reader's response ended; ``finished`` says whether it wrote the whole run."""
        if reader is not self._reader:
            return  # superseded: the run belongs to another reader now
        self._reader = None
        if not finished:
            self.counters.streams_dropped += 1
        if finished or self.outcome is not None:
            self._settle()
            return
        if self.resumable:
            self._grace = asyncio.get_running_loop().call_later(self.limits.grace, self._expire)
            self.counters.runs_parked += 1
        else:
            await self.cancel("cancelled", "the client disconnected")

    def _expire(self) -> None:
        self._cancel_grace()
        if self._reader is None and self.outcome is None:
            self.expired = True
            self.counters.runs_expired += 1
            # Held on the run, so the task is not collected before it is done.
            self._expiry = asyncio.get_running_loop().create_task(
                self.cancel("resume_timeout", "nobody reconnected within the grace period")
            )

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
            self.counters.runs_parked -= 1

    async def pump(self, reader: Reader, send: Send, keepalive: bytes, interval: float) -> bool:
        """Write the run to ``send`` from the reader's cursor; True when it wrote the end."""
        loop = asyncio.get_running_loop()
        while not (reader.gone or reader.superseded):
            if reader.cursor < self.produced:
                body = self._buffer.take(reader.cursor)
                reader.cursor = self.produced
                self._buffer.trim(ended=self.outcome is not None)
                await send(body)
                continue
            if self.outcome is not None:
                return True
            wake = reader.wake = loop.create_future()
            timer = loop.call_later(interval, reader.notify)  # time for a keep-alive
            try:
                await wake
            finally:
                timer.cancel()
                reader.wake = None
            idle = reader.cursor == self.produced and self.outcome is None
            if idle and not (reader.gone or reader.superseded):
                await send(keepalive)
        return False

    def resume_cursor(self, seq: int) -> int:
        """The buffer index to resume from after the client saw event ``seq``."""
        cursor = seq + 1
        if cursor > self.produced:
            raise RunConflict(
                f"run {self.run_id} has sent events up to seq {self.produced - 1} only; "
                f"Last-Event-ID names seq {seq}",
            )
        if cursor < self._buffer.oldest:
            raise RunGone(
                f"run {self.run_id} no longer keeps the events after seq {seq}: the replay "
                f"buffer holds the last {self.limits.replay_events} events",
            )
        return cursor
