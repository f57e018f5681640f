"""The live view's intake: a run's events pulled into its ``RunState``, in a background task.

``view.py`` starts the task, stops it and redraws; this module is the loop that
reads the stream. A token takes the short path (record, apply, ask for a redraw):
10,000 tokens a second and more pass here. Anything the stream cannot report
itself (it ends without ``done``, raises, or yields something that is not a lab
event) ends the run in the error state instead of a traceback in the notebook.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable

from ._threaded import iterate_in_thread
from .events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from .runstate import RunState

__all__ = ["Feed"]

_EVENT_CLASSES = (
    StatusEvent,
    ThoughtEvent,
    ToolCallEvent,
    ToolResultEvent,
    CitationEvent,
    TokenEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
)
# isinstance() on a pydantic model class costs about a microsecond; a set lookup on the exact type
# is what 10,000 tokens a second can afford (subclasses still pass, the slow way).
_EVENT_TYPES = frozenset(_EVENT_CLASSES)


class Feed:
    """Takes a run's events into ``state`` and ``events``; ``poke`` asks for a redraw.

    ``clock`` tells the time (the loop's), so ``ended_at`` says when the run ended.
    """

    def __init__(
        self,
        state: RunState,
        events: list[Event],
        poke: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self.state = state
        self.events = events
        self.began = False
        """True once the task runs (a task cancelled before it ran never closes the stream)."""
        self.ended_at: float | None = None
        self._poke = poke
        self._clock = clock

    def mark_ended(self) -> None:
        """Note the moment the run ended (stopped from outside, or cancelled)."""
        self.ended_at = self._clock()

    async def consume(self, stream: Iterable[Event] | AsyncIterable[Event]) -> None:
        """Read ``stream`` to its end (or until the run ends), then close it."""
        self.began = True
        events = stream if isinstance(stream, AsyncIterable) else iterate_in_thread(stream)
        # Bound once: a flood passes here 10,000 times a second and more.
        record, apply, poke = self.events.append, self.state.apply, self._poke
        try:
            async for event in events:
                if type(event) is TokenEvent:  # the flood's path: a token never ends the run
                    record(event)
                    apply(event)
                    poke()
                elif self.receive(event):
                    break
            else:
                self.fail("incomplete_stream", "the stream ended without a done or error event")
        except Exception as exc:  # a broken stream becomes the card's error state, not a traceback
            if not self.state.ended:
                self.fail("stream_failed", f"{type(exc).__name__}: {exc}")
        finally:
            # After a break or an error the stream is still open: close it so its finally runs.
            # (A cancellation already closed it where it was waiting.)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    def receive(self, event: object) -> bool:
        """Take one event into the state and ask for a redraw; True once the run has ended."""
        kind = type(event)
        if kind not in _EVENT_TYPES and not isinstance(event, _EVENT_CLASSES):
            self.fail("bad_event", f"the stream yielded a {kind.__name__}, not a lab event")
            return True
        self.events.append(event)  # type: ignore[arg-type]  # checked just above
        state = self.state
        state.apply(event)  # type: ignore[arg-type]
        ended = kind is not TokenEvent and state.ended
        if ended:
            self.mark_ended()
        self._poke()
        return ended

    def fail(self, code: str, message: str) -> None:
        """End the run in the error state for a fault the stream could not report itself."""
        if self.state.ended:
            return
        self.state.apply(
            ErrorEvent(
                run_id=self.state.run_id or "run_local",
                seq=self.state.event_count,
                code=code,
                message=message,
            )
        )
        self.mark_ended()
