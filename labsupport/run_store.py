"""Where a server keeps its runs: in this process (the default) or in a store its workers share.

A ``RunStore`` is what the HTTP layer (``labsupport.run_requests``) asks to
start, resume and cancel runs. Two backends:

- ``InProcessStore`` (``run_store="memory"``, lesson 7): the runs and their
  replay buffers live in this process's ``RunRegistry``. A reconnection must
  reach the same process, or it gets 404.
- ``labsupport.redis_store.RedisStore`` (``run_store="redis://host:port/0"``,
  lesson 8): every event goes to a Redis stream, so any worker behind a load
  balancer can resume or cancel any run.

``open_run_store`` picks the backend from that one setting.

>>> open_run_store("memory", RunLimits(), replay_seconds=60.0, max_active_runs=10)
InProcessStore(runs=0)
>>> open_run_store("postgres://db", RunLimits(), replay_seconds=60.0, max_active_runs=10)
Traceback (most recent call last):
...
ValueError: run_store must be 'memory' or a redis:// (rediss://, unix://) URL, got 'postgres://db'
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

from fastapi.responses import Response

from .events import Event
from .live_run import Run, RunCounters, RunLimits
from .run_errors import RunConflict, RunGone
from .run_registry import RunRegistry
from .run_stream import RunStream
from .sse import LabEncoder, WireEncoder

__all__ = ["REDIS_SCHEMES", "InProcessStore", "RunStore", "check_store_url", "open_run_store"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@runtime_checkable
class RunStore(Protocol):
    """What the HTTP layer needs from wherever runs are kept.

    ``start`` and ``resume`` return the response that streams the run; a reason
    not to is raised as a ``labsupport.run_errors.RunError`` (a store that cannot
    be reached raises ``StoreUnavailable``, or its stream answers 503).
    """

    counters: RunCounters
    limits: RunLimits
    # Whether runs in other dialects (the AI SDK's) can be replayed from their first chunk.
    replays_dialects: bool

    async def open(self) -> None:
        """Connect (if there is anything to connect to); raise naming the store if it cannot."""

    async def aclose(self) -> None:
        """End this process's runs and let go of connections."""

    def check_room(self) -> None:
        """Raise ``TooManyRuns`` if one more run would exceed the cap."""

    def take_slot(self) -> Callable[[], None]:
        """Hold a slot of the cap for work that is not a run (a ``/v1`` completion)."""

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
        """The response that runs ``events`` and streams them from the first."""

    async def resume(
        self, run_id: str, seq: int, message: str, *, keepalive_seconds: float
    ) -> Response:
        """The response that streams run ``run_id`` from right after event ``seq``."""

    async def replay(self, run_id: str, *, keepalive_seconds: float) -> Response:
        """The response that streams run ``run_id`` again from its first chunk, then live."""

    async def cancel(self, run_id: str, code: str, message: str) -> tuple[str, int]:
        """Stop the run now; its (outcome, events written). ``RunConflict`` if it had ended."""

    def cancel_requested(self) -> None:
        """Count a cancel request, known run or not."""

    def cancel_all(self, code: str, message: str) -> None:
        """End every run this process is running with an ``error`` event."""


class InProcessStore:
    """Runs in this process's memory: lesson 7's replay buffer behind the ``RunStore`` protocol."""

    replays_dialects = True

    def __init__(self, registry: RunRegistry | None = None) -> None:
        self.registry = registry if registry is not None else RunRegistry()
        self.counters = self.registry.counters
        self.limits = self.registry.limits

    def __repr__(self) -> str:
        return f"InProcessStore(runs={len(self.registry)})"

    async def open(self) -> None:
        return None

    async def aclose(self) -> None:
        return None  # the server's shutdown already ended the streams (``stream_closer``)

    def check_room(self) -> None:
        self.registry.check_room()

    def take_slot(self) -> Callable[[], None]:
        return self.registry.take_slot()

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
        run = self.registry.new_run(run_id, message, events, encoder, resumable=resumable)
        return RunStream(self.registry, run, 0, keepalive_seconds=keepalive_seconds)

    async def resume(
        self, run_id: str, seq: int, message: str, *, keepalive_seconds: float
    ) -> Response:
        run = self._live_run(run_id)
        # Only the lab's own stream carries event ids; a replayable dialect restarts whole.
        if not run.resumable or not isinstance(run.encoder, LabEncoder):
            raise RunConflict(f"run {run_id} cannot be resumed: it is not a lab stream")
        if run.message != message:
            raise RunConflict(
                f"Last-Event-ID names run {run_id}, which answers a different message"
            )
        cursor = run.resume_cursor(seq)
        return RunStream(
            self.registry, run, cursor, keepalive_seconds=keepalive_seconds, resumed=True
        )

    async def replay(self, run_id: str, *, keepalive_seconds: float) -> Response:
        run = self._live_run(run_id)
        cursor = run.resume_cursor(-1)
        return RunStream(
            self.registry, run, cursor, keepalive_seconds=keepalive_seconds, resumed=True
        )

    def _live_run(self, run_id: str) -> Run:
        run = self.registry.lookup(run_id)
        if run.expired:
            raise RunGone(
                f"run {run_id} was cancelled: nobody reconnected within {self.limits.grace:g} s"
            )
        return run

    async def cancel(self, run_id: str, code: str, message: str) -> tuple[str, int]:
        run = self.registry.lookup(run_id)
        if not await asyncio.shield(run.cancel(code, message)):
            raise RunConflict(f"run {run_id} already ended: {run.outcome}")
        return str(run.outcome), run.produced

    def cancel_requested(self) -> None:
        self.registry.cancel_requested()

    def cancel_all(self, code: str, message: str) -> None:
        self.registry.cancel_all(code, message)


def check_store_url(spec: object) -> str:
    """``spec`` if it names a backend (``"memory"`` or a Redis URL), else ``ValueError`` naming it."""
    if not isinstance(spec, str):
        raise TypeError(f"run_store must be a str, got {spec!r}")
    if spec != "memory" and not spec.startswith(REDIS_SCHEMES):
        raise ValueError(
            f"run_store must be 'memory' or a redis:// (rediss://, unix://) URL, got {spec!r}"
        )
    return spec


def open_run_store(
    spec: str, limits: RunLimits, *, replay_seconds: float, max_active_runs: int
) -> RunStore:
    """The store ``spec`` names: ``"memory"``, or a Redis URL (needs the ``redis`` extra)."""
    check_store_url(spec)
    if spec == "memory":
        registry = RunRegistry(
            limits=limits, replay_seconds=replay_seconds, max_active_runs=max_active_runs
        )
        return InProcessStore(registry)
    try:  # redis-py loads only when a Redis store is asked for
        from .redis_store import RedisStore
    except ImportError as exc:
        raise ImportError(
            f"run_store={spec!r} needs redis-py, which the kit depends on: pip install -e . ({exc})"
        ) from None

    return RedisStore(
        spec, limits=limits, replay_seconds=replay_seconds, max_active_runs=max_active_runs
    )
