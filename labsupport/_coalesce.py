"""Coalesce many "something changed" signals into a few redraws per second.

A fast stream changes the state thousands of times a second, but a person
reads at most a few dozen frames a second, and jupyter_server drops a kernel's
output above 1000 messages per second. ``Coalescer`` turns every ``poke()``
into at most ``max_per_second`` calls of a redraw callback: the first change is
drawn at once (the reader sees progress without delay), later ones are folded
into one trailing redraw at the next free slot, and ``flush()`` draws whatever
is still pending, so the last frame always shows the exact final state.

Example: 10,000 pokes in 0.5 s at max_per_second=30 -> about 16 redraws,
the last one after the last poke.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

__all__ = ["Coalescer"]


class Coalescer:
    """Calls ``redraw`` at most ``max_per_second`` times a second, on the running event loop."""

    def __init__(
        self,
        redraw: Callable[[], None],
        *,
        max_per_second: float = 30.0,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if (
            isinstance(max_per_second, bool)
            or not isinstance(max_per_second, (int, float))
            or not 0 < max_per_second < math.inf
        ):
            raise ValueError(f"max_per_second must be a number > 0, got {max_per_second!r}")
        self._redraw = redraw
        self.interval = 1.0 / max_per_second
        self._loop = loop or asyncio.get_running_loop()
        self._last = -math.inf
        self._dirty = False
        self._handle: asyncio.TimerHandle | None = None
        self.redraws = 0
        """How many times ``redraw`` ran."""

    @property
    def pending(self) -> bool:
        """True when a change has not been drawn yet."""
        return self._dirty

    def poke(self) -> None:
        """Note a change: draw now if the last redraw is old enough, else once at the next slot."""
        self._dirty = True
        due = self._last + self.interval
        if self._loop.time() >= due:
            # Drawing inline, not via the loop: a producer that rarely yields the
            # loop (a burst of ready items) must still be seen progressing.
            self._fire()
        elif self._handle is None:
            self._handle = self._loop.call_at(due, self._fire)

    def flush(self) -> None:
        """Draw any pending change now, regardless of the rate (use it for the final state)."""
        if self._dirty:
            self._fire()
        self.cancel()

    def cancel(self) -> None:
        """Forget the scheduled redraw, if any (pending changes stay pending)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self.cancel()
        self._dirty = False
        self._last = self._loop.time()
        self.redraws += 1
        self._redraw()
