"""The server's runs by id: creating them, finding them, forgetting them, and their counters.

An ended run is forgotten at once, unless it is resumable: then it stays for
``replay_seconds`` so a client that reconnects late still gets its last events.
At most ``max_active_runs`` runs are active at once (running, or parked for a
reconnection): one more is refused with ``TooManyRuns`` before it is created.

>>> registry = RunRegistry(replay_seconds=60.0)
>>> registry.lookup("run_nope")
Traceback (most recent call last):
...
labsupport.run_errors.UnknownRun: run run_nope is unknown here: it never existed, or it ended more than 60 s ago and was forgotten
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from .events import Event
from .live_run import Run, RunCounters, RunLimits
from .run_errors import TooManyRuns, UnknownRun
from .sse import WireEncoder

__all__ = ["DEFAULT_MAX_ACTIVE_RUNS", "RunRegistry", "take_slot"]

# Well above lesson 7's 100 streams and the benchmarks' 1,000, well below what exhausts a laptop.
DEFAULT_MAX_ACTIVE_RUNS = 2000


def take_slot(counters: RunCounters, check_room: Callable[[], None]) -> Callable[[], None]:
    """Count one more active run once ``check_room()`` allows it; returns what frees it."""
    check_room()
    counters.active_runs += 1
    held = [True]

    def release() -> None:
        if held:
            held.clear()
            counters.active_runs -= 1

    return release


class RunRegistry:
    """The server's runs by id, their counters, and how long ended runs are kept."""

    def __init__(
        self,
        *,
        limits: RunLimits | None = None,
        replay_seconds: float = 60.0,
        max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS,
    ) -> None:
        if isinstance(max_active_runs, bool) or not isinstance(max_active_runs, int):
            raise TypeError(f"max_active_runs must be an int, got {max_active_runs!r}")
        if max_active_runs < 1:
            raise ValueError(f"max_active_runs must be at least 1, got {max_active_runs}")
        self.limits = limits if limits is not None else RunLimits()
        self.max_active_runs = max_active_runs
        self.replay_seconds = replay_seconds
        self.counters = RunCounters()
        self._runs: dict[str, Run] = {}
        self._kept: deque[Run] = deque()  # ended resumable runs, oldest first
        self._tasks: set[asyncio.Task[object]] = set()

    def __len__(self) -> int:
        return len(self._runs)

    def new_run(
        self,
        run_id: str,
        message: str,
        events: AsyncIterator[Event],
        encoder: WireEncoder,
        *,
        resumable: bool,
    ) -> Run:
        """A run of ``events``, encoded by ``encoder``; it starts when a reader attaches.

        Raises ``TooManyRuns`` (and creates nothing) when ``max_active_runs`` are active.
        """
        self._purge()
        self.check_room()
        run = Run(
            run_id,
            message,
            events,
            encoder,
            resumable=resumable,
            counters=self.counters,
            limits=self.limits,
            on_settled=self._settled,
        )
        self._runs[run_id] = run
        self.counters.active_runs += 1
        return run

    def check_room(self) -> None:
        """Raise ``TooManyRuns`` if one more run would exceed ``max_active_runs``."""
        if self.counters.active_runs >= self.max_active_runs:
            self.counters.runs_refused += 1
            raise TooManyRuns(
                f"this server already has {self.counters.active_runs} active runs, its limit "
                f"(running or parked for a reconnection); retry when one ends, or raise the limit "
                f"with ServerSettings(max_active_runs=...)"
            )

    def take_slot(self) -> Callable[[], None]:
        """Count one more active run that is not a ``Run`` (a ``/v1`` completion).

        Returns the function that frees the slot again (calling it twice frees it once).
        Raises ``TooManyRuns`` (and takes nothing) when ``max_active_runs`` are active.
        """
        return take_slot(self.counters, self.check_room)

    def get(self, run_id: str) -> Run | None:
        """The run with this id, or ``None``."""
        self._purge()
        return self._runs.get(run_id)

    def lookup(self, run_id: str) -> Run:
        """The run to resume or cancel, or ``UnknownRun`` saying why there is none."""
        run = self.get(run_id)
        if run is None:
            raise UnknownRun(
                f"run {run_id} is unknown here: it never existed, or it ended more than "
                f"{self.replay_seconds:g} s ago and was forgotten"
            )
        return run

    def running(self) -> list[Run]:
        """The runs that have not ended."""
        return [run for run in self._runs.values() if run.outcome is None]

    # --- what the HTTP layer reports ---------------------------------------------

    def stream_opened(self, *, resumed: bool) -> None:
        """A connection started writing a run (``resumed``: after a reconnection)."""
        self.counters.active_streams += 1
        if resumed:
            self.counters.runs_resumed += 1

    def stream_closed(self) -> None:
        """A connection stopped writing a run, however it ended."""
        self.counters.active_streams -= 1

    def cancel_requested(self) -> None:
        """Someone asked to cancel a run, known or not."""
        self.counters.cancel_requests += 1

    def cancel_all(self, code: str, message: str) -> None:
        """End every running run with an ``error`` event; call on the server's loop."""
        for run in self.running():
            self._spawn(run.cancel(code, message))

    # --- keeping and forgetting -------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _settled(self, run: Run) -> None:
        self.counters.active_runs -= 1
        if run.resumable:
            self._kept.append(run)
        elif self._runs.get(run.run_id) is run:
            del self._runs[run.run_id]

    def _purge(self) -> None:
        """Forget the resumable runs that ended more than ``replay_seconds`` ago."""
        kept = self._kept
        if not kept:
            return
        now = asyncio.get_running_loop().time()
        while kept and now - (kept[0].ended_at or now) > self.replay_seconds:
            run = kept.popleft()
            if self._runs.get(run.run_id) is run:
                del self._runs[run.run_id]  # a reader replaying it now keeps its own reference
