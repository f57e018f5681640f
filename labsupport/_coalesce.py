"""Coalesce many "something changed" signals into a few redraws per second.

A fast stream changes the state thousands of times a second, but a person
reads at most a few dozen frames a second, and jupyter_server drops a kernel's
output above 1000 messages per second. ``Coalescer`` turns every ``poke()``
into at most ``max_per_second`` calls of a redraw callback: the first change is
drawn at once (the reader sees progress without delay), later ones are folded
into one trailing redraw at the next free slot, and ``flush()`` draws whatever
is still pending, so the last frame always shows the exact final state.

Two rules, checked before every redraw:

* **spacing**: a redraw asked for by ``poke()`` comes at least
  ``1 / max_per_second`` after the previous one;
* **window**: no window of one second ever holds more than ``max_per_second``
  redraws (``max(1, int(max_per_second))`` in a window of that many intervals,
  for a rate that is not a whole number). ``flush()`` skips the spacing, not
  the window: the final frame of a short run is drawn at once, that of a long
  flood at most one interval later (``await settled()`` waits for it).

Example: 10,000 pokes in 0.5 s at max_per_second=30 -> about 16 redraws,
the last one after the last poke.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable

__all__ = ["Coalescer"]

# While a redraw is scheduled, a poke only notes the change; the clock is read on
# every 32nd, in case the producer never hands the loop back to run the timer.
_CLOCK_EVERY = 32


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
        budget = max(1, int(max_per_second))
        self.window = budget * self.interval
        """At most ``max_per_second`` redraws fit in any window this long (1 s for 30/s)."""
        self._recent: deque[float] = deque(maxlen=budget)
        self._loop = loop or asyncio.get_running_loop()
        self._last = -math.inf
        self._dirty = False
        self._handle: asyncio.TimerHandle | None = None
        self._due = math.inf
        self._unclocked = 0
        self._settled: asyncio.Future[None] | None = None
        self.redraws = 0
        """How many times ``redraw`` ran."""

    @property
    def pending(self) -> bool:
        """True when a change has not been drawn yet."""
        return self._dirty

    def poke(self) -> None:
        """Note a change: draw now if the last redraw is old enough, else once at the next slot."""
        if self._handle is not None:
            # The flood's path: the change is already scheduled to be drawn.
            self._unclocked += 1
            if self._unclocked >= _CLOCK_EVERY:
                self._unclocked = 0
                if self._loop.time() >= self._due:
                    self._fire()
            return
        self._dirty = True
        self._draw_or_schedule(self._earliest(spaced=True))

    def flush(self) -> None:
        """Draw the pending change now, whatever the spacing, unless the window is full.

        A full window (``max_per_second`` redraws in the last second) moves the
        redraw to the moment the oldest of them leaves it, at most one interval away.
        """
        if self._dirty:
            self._draw_or_schedule(self._earliest(spaced=False))
        else:
            self.cancel()

    async def settled(self) -> None:
        """Wait until no redraw is scheduled any more (the last change is on screen)."""
        while self._handle is not None:
            if self._settled is None or self._settled.done():
                self._settled = self._loop.create_future()
            # Shielded: one waiter being cancelled must not cancel the others' future.
            await asyncio.shield(self._settled)

    def cancel(self) -> None:
        """Forget the scheduled redraw, if any (pending changes stay pending)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._due = math.inf
        if self._settled is not None and not self._settled.done():
            self._settled.set_result(None)

    def _earliest(self, *, spaced: bool) -> float:
        """The first moment the next redraw is allowed."""
        earliest = self._last + self.interval if spaced else -math.inf
        if len(self._recent) == self._recent.maxlen:
            earliest = max(earliest, self._recent[0] + self.window)
        return earliest

    def _draw_or_schedule(self, earliest: float) -> None:
        if self._loop.time() >= earliest:
            # Drawing inline, not via the loop: a producer that rarely yields the
            # loop (a burst of ready items) must still be seen progressing.
            self._fire()
        elif self._handle is None or earliest < self._due:
            self.cancel()
            self._due = earliest
            self._unclocked = 0
            self._handle = self._loop.call_at(earliest, self._on_timer)

    def _on_timer(self) -> None:
        # A timer may run a hair early (the loop's clock resolution): count it as on time.
        self._fire(max(self._loop.time(), self._due))

    def _fire(self, now: float | None = None) -> None:
        if now is None:
            now = self._loop.time()
        self.cancel()
        self._dirty = False
        self._last = now
        self._recent.append(now)
        self.redraws += 1
        self._redraw()
