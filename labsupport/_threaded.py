"""Consume a blocking (sync) iterator from async code without freezing the event loop.

``chat_stream`` sleeps between tokens with ``time.sleep``. Iterated directly in a
kernel's event loop it would freeze every widget until it ended, Stop button
included. ``iterate_in_thread`` runs the iterator in a worker thread of its own,
which hands each item over as soon as it exists; the loop takes whatever has
piled up in one go, so a flood of items costs few wake-ups.

Stopping reaches the producer: when the consumer stops (``aclose``, a cancelled
task, ``break``), the worker stops asking for items and calls the iterator's
``close()`` in its own thread, so the generator gets ``GeneratorExit`` and its
``finally`` blocks run. A generator cannot be interrupted while it runs, so a
sync producer stops at its next ``yield``: the item it was producing when the
consumer stopped is the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncGenerator, Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")

# Enough to absorb a burst; beyond it the producer waits, so memory stays bounded.
_BUFFER = 1024


class _Pipe(Generic[T]):
    """Items from the worker thread to the event loop, with a stop signal going back."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.items: deque[T] = deque()
        self.held = 0  # taken by the consumer and not all yielded yet: they count too
        self.cond = threading.Condition()
        self.ready = asyncio.Event()
        self.closed = loop.create_future()
        self.stopping = False
        self.ended = False
        self.error: Exception | None = None
        self._notified = False

    def _wake(self) -> None:
        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.ready.set)

    def produce(self, iterator: Iterator[T]) -> None:
        """The worker thread: pull items until the end, an error or a stop, then close."""
        try:
            while True:
                with self.cond:
                    while len(self.items) + self.held >= self.limit and not self.stopping:
                        self.cond.wait()
                    if self.stopping:
                        break
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                with self.cond:
                    self.items.append(item)
                    wake, self._notified = not self._notified, True
                if wake:
                    self._wake()
        except Exception as exc:  # handed to the consumer, which raises it in its own task
            self.error = exc
        finally:
            try:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()  # GeneratorExit inside the producer, in the thread that ran it
            finally:
                with self.cond:
                    self.ended = True
                self._wake()
                with contextlib.suppress(RuntimeError):
                    self.loop.call_soon_threadsafe(self._set_closed)

    def _set_closed(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def take(self) -> tuple[list[T], bool]:
        """On the loop: everything that arrived, and whether the producer has ended."""
        with self.cond:
            batch = list(self.items)
            self.items.clear()
            # The consumer comes back for more only once it has yielded the whole batch.
            self.held = len(batch)
            self._notified = False
            self.cond.notify()
            return batch, self.ended

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()


async def iterate_in_thread(
    items: Iterable[T], *, buffer: int = _BUFFER
) -> AsyncGenerator[T, None]:
    """Yield the items of a blocking iterable, produced in a worker thread of its own."""
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        raise ValueError(f"buffer must be an int >= 1, got {buffer!r}")
    iterator = iter(items)
    pipe: _Pipe[T] = _Pipe(asyncio.get_running_loop(), buffer)
    # One thread per stream: a generator must never run in two threads at once,
    # and a slow producer must not hold a thread of the loop's shared pool.
    worker = threading.Thread(
        target=pipe.produce, args=(iterator,), name="labsupport-stream", daemon=True
    )
    worker.start()
    try:
        while True:
            pipe.ready.clear()  # before looking, so an item added after the look wakes us
            batch, ended = pipe.take()
            for item in batch:
                yield item
            if not batch:
                if ended:
                    if pipe.error is not None:
                        raise pipe.error
                    return
                await pipe.ready.wait()
    finally:
        pipe.stop()
        # Shielded: a second cancellation must not skip waiting for the producer's close.
        await asyncio.shield(pipe.closed)
