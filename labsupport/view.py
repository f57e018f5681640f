"""A live ipywidgets view of a lab run, with a Stop button that really stops it.

    view = watch(achat_stream("Who runs billing?"), title="Who runs billing?")
    view            # the cell returns at once; the card fills in as events arrive

    state = await view      # in a later cell: wait for the end (finished, error or stopped)
    print(view.summary())

What the card shows, top to bottom: the status line with the elapsed time and
a Stop button; a "Thinking" accordion with the steps (status, thoughts, tool
calls and results) that folds away when the answer is done; the answer, with a
skeleton before the first token; a red box if the run failed; the sources as
chips; the token counts and the cost.

Three design decisions make it behave in a real notebook:

* The stream runs as a **background asyncio task** on the kernel's loop. The
  cell returns at once, so the kernel is free to handle the Stop click, on any
  ipykernel. A sync stream (``chat_stream``) is pulled in a worker thread, so
  its ``time.sleep`` never freezes the loop.
* Redraws are **coalesced** to at most ``max_updates_per_second`` (30) in any
  one-second window, the first frame at ``start`` and the final one included:
  each redraw sends a few comm messages, and jupyter_server drops a kernel's
  output above 1000 messages per second. The last redraw always shows the exact
  state, and ``await view`` returns once it is drawn.
* ``stop()`` (the button calls it) freezes the card at once (drawn at once, or
  one frame later if the last second already held 30) and cancels the task;
  cancellation closes the stream, so the model stops generating and billing
  (see ``MockLLM.tokens_generated``).

The background task never prints, and the view's text form depends only on the
state, so notebooks that use it stay reproducible under nbval.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Generator, Iterable
from typing import Any

from . import _viewhtml as markup
from ._coalesce import Coalescer
from ._viewcard import Card
from ._viewfeed import Feed
from .events import CostEvent, Event
from .runstate import Outcome, RunState

__all__ = ["LiveView", "watch"]

# While nothing arrives (time to first token, a slow tool) the elapsed time still ticks.
_TICK_SECONDS = 0.1


class LiveView:
    """A card that renders one run live; ``start(stream)`` it, ``stop()`` it, ``await`` it.

    ``title`` is shown at the top (the question, typically). ``max_updates_per_second``
    caps how often the card is redrawn, whatever the token rate.
    """

    def __init__(self, *, title: str | None = None, max_updates_per_second: float = 30.0) -> None:
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title must be a str or None, got {type(title).__name__}")
        if (
            isinstance(max_updates_per_second, bool)
            or not isinstance(max_updates_per_second, (int, float))
            or not 0 < max_updates_per_second <= 120
        ):
            raise ValueError(
                f"max_updates_per_second must be a number in (0, 120], got {max_updates_per_second!r}"
            )
        self.title = title
        self.max_updates_per_second = float(max_updates_per_second)
        self.state = RunState()
        self.events: list[Event] = []
        """Every event received, in order."""
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._coalescer: Coalescer | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._started_at = 0.0
        self._stream: object = None
        self._feed: Feed | None = None
        self._drawn_end = False
        self._card = Card(title, self.state, self.stop)
        self.widget = self._card.widget
        """The card itself, an ``ipywidgets.VBox``; display the view or this."""

    # -- public API ---------------------------------------------------------------

    def start(self, stream: Iterable[Event] | AsyncIterable[Event]) -> LiveView:
        """Start rendering ``stream`` (sync or async) in a background task; returns the view.

        Needs a running event loop: a Jupyter kernel has one, elsewhere call it
        from ``async`` code.
        """
        if self._task is not None:
            raise RuntimeError("this view is already showing a run; create a new LiveView")
        if not isinstance(stream, (Iterable, AsyncIterable)) or isinstance(
            stream, (str, bytes, dict)
        ):
            raise TypeError(
                f"stream must be an iterable or async iterable of lab events, got {type(stream).__name__}"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "LiveView.start needs a running event loop: call it in a Jupyter cell or from async code"
            ) from None
        self._loop = loop
        self._thread_id = threading.get_ident()
        self._stream = stream
        self._coalescer = Coalescer(
            self._redraw, max_per_second=self.max_updates_per_second, loop=loop
        )
        self._started_at = loop.time()
        self._feed = feed = Feed(self.state, self.events, self._coalescer.poke, loop.time)
        self._task = loop.create_task(feed.consume(stream), name="labsupport-live-view")
        self._task.add_done_callback(self._on_done)
        self._tick = loop.call_later(_TICK_SECONDS, self._on_tick)
        # The first frame (status and skeleton) is drawn at once, through the coalescer,
        # so it counts: the first event waits for the next slot.
        self._coalescer.poke()
        return self

    def stop(self) -> None:
        """Stop the run: the card freezes now, and the stream is closed (no more tokens or cost).

        Safe to call at any time, more than once, and from another thread.
        """
        loop, task, feed = self._loop, self._task, self._feed
        if loop is None or task is None or feed is None or task.done():
            return
        if threading.get_ident() != self._thread_id:
            loop.call_soon_threadsafe(self.stop)
            return
        if not self.state.ended:
            self.state.cancel()
            feed.mark_ended()
        if not feed.began:
            # Cancelling a task that never ran skips its finally: close a sync producer here.
            close = getattr(self._stream, "close", None)
            if close is not None and not isinstance(self._stream, AsyncIterable):
                close()
        task.cancel()
        self._final_redraw()

    async def wait(self) -> RunState:
        """Wait until the run has finished, failed or been stopped, then return its state."""
        if self._task is None:
            raise RuntimeError("nothing to wait for: call start(stream) first")
        # asyncio.wait never raises the task's cancellation into the waiting cell.
        await asyncio.wait({self._task})
        if self._coalescer is not None:
            await self._coalescer.settled()  # the final frame, if a full window delayed it
        return self.state

    def __await__(self) -> Generator[Any, None, RunState]:
        return self.wait().__await__()

    @property
    def done(self) -> bool:
        """True once the background task is over and the stream closed."""
        return self._task is not None and self._task.done()

    @property
    def outcome(self) -> Outcome:
        """``waiting``, ``running``, ``finished``, ``error`` or ``cancelled``."""
        return self.state.outcome

    @property
    def text(self) -> str:
        """The answer text received so far."""
        return self.state.answer

    @property
    def cost(self) -> CostEvent | None:
        """The run's cost event, once it came (never for a stopped run)."""
        return self.state.cost

    @property
    def redraws(self) -> int:
        """How many times the card was redrawn (compare with ``len(view.events)``)."""
        return 0 if self._coalescer is None else self._coalescer.redraws

    @property
    def elapsed(self) -> float:
        """Seconds since ``start``, frozen once the run ended."""
        if self._loop is None or self._feed is None:
            return 0.0
        ended_at = self._feed.ended_at
        end = ended_at if ended_at is not None else self._loop.time()
        return end - self._started_at

    def summary(self) -> str:
        """The final state in a few deterministic lines, for printing in the next cell."""
        return markup.summary_text(self.state, len(self.events))

    def __repr__(self) -> str:
        return (
            f"LiveView(outcome={self.state.outcome!r}, tokens={self.state.token_count}, "
            f"events={len(self.events)})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs) or {}
        # The widget's own text form lists its children's values; ours depends on the state only.
        bundle["text/plain"] = repr(self)
        return bundle

    def _redraw(self) -> None:
        if self._card.draw(self.state, self.elapsed, self.redraws):
            self._drawn_end = True

    def _final_redraw(self) -> None:
        """Draw the ended state now (or at the first moment the window allows), once."""
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        coalescer = self._coalescer
        if coalescer is None or (self._drawn_end and not coalescer.pending):
            return
        coalescer.poke()
        coalescer.flush()

    def _on_tick(self) -> None:
        self._tick = None
        if self.state.ended or self._coalescer is None or self._loop is None:
            return
        self._coalescer.poke()
        self._tick = self._loop.call_later(_TICK_SECONDS, self._on_tick)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        assert self._feed is not None
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here so asyncio never prints "exception was never retrieved".
            exc = task.exception()
            self._feed.fail("internal_error", f"{type(exc).__name__}: {exc}")
        elif task.cancelled() and not self.state.ended:
            # Cancelled by someone else than stop() (kernel shutdown, a task group...).
            self.state.cancel()
            self._feed.mark_ended()
        self._final_redraw()


def watch(
    stream: Iterable[Event] | AsyncIterable[Event],
    *,
    title: str | None = None,
    max_updates_per_second: float = 30.0,
) -> LiveView:
    """Create a ``LiveView``, start it on ``stream`` and return it (make it the cell's last line)."""
    return LiveView(title=title, max_updates_per_second=max_updates_per_second).start(stream)
