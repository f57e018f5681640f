"""See a run in time: when each event arrived, on a time axis, streamed or not.

``record`` consumes a stream and stamps each event with the seconds since the
request started (a monotonic clock); ``record_buffered`` does the same for a
request that answers only at the end, like a non-streaming API call: every
event arrives at once, when the whole answer is ready. ``plot`` draws one row
per timeline with the milestones a user feels: the first status, the tool call,
the first token, the last token and the end.

    >>> streamed = record(chat_stream("Who runs billing?"))          # doctest: +SKIP
    >>> buffered = record_buffered(chat_stream("Who runs billing?")) # doctest: +SKIP
    >>> plot(streamed, buffered)                                      # doctest: +SKIP

Both runs take the same total time; what differs is *when the user sees
something*: after a fraction of a second when streamed, only at the end when not.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .events import TERMINAL_TYPES, Event

if TYPE_CHECKING:  # matplotlib is needed only to draw
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MILESTONES", "Mark", "Timeline", "arecord", "plot", "record", "record_buffered"]

MILESTONES: tuple[str, ...] = ("status", "tool_call", "first_token", "last_token", "end")
"""The moments a timeline highlights, in the order a healthy run reaches them."""

_COLORS = {
    "status": "#7f7f7f",
    "tool_call": "#9467bd",
    "first_token": "#2ca02c",
    "last_token": "#1f77b4",
    "end": "#d62728",
}


class Mark(NamedTuple):
    """One event and when it arrived, in seconds since the request started."""

    seconds: float
    event: Event


@dataclass
class Timeline:
    """The events of one run with their arrival times; ``label`` names the row in a plot."""

    label: str
    marks: list[Mark] = field(default_factory=list)

    def milestones(self) -> dict[str, float]:
        """Seconds at which each milestone was reached (missing ones are left out).

        Example: a streamed lesson run -> ``{'status': 0.0, 'tool_call': 0.0,
        'first_token': 0.8, 'last_token': 1.8, 'end': 1.8}``
        """
        found: dict[str, float] = {}
        tokens = [m.seconds for m in self.marks if m.event.type == "token"]
        for mark in self.marks:
            kind = mark.event.type
            if kind == "status":
                found.setdefault("status", mark.seconds)
            elif kind == "tool_call":
                found.setdefault("tool_call", mark.seconds)
            elif kind in TERMINAL_TYPES:
                found.setdefault("end", mark.seconds)
        if tokens:
            found["first_token"], found["last_token"] = tokens[0], tokens[-1]
        return {name: found[name] for name in MILESTONES if name in found}

    @property
    def order(self) -> list[str]:
        """The milestones in the order they were reached (ties keep the usual order)."""
        reached = self.milestones()
        return sorted(reached, key=lambda name: (reached[name], MILESTONES.index(name)))

    @property
    def time_to_first_token(self) -> float | None:
        """Seconds from the request to the first token, or None without tokens."""
        return self.milestones().get("first_token")

    @property
    def total(self) -> float:
        """Seconds from the request to the last event."""
        return self.marks[-1].seconds if self.marks else 0.0


def record(
    events: Iterable[Event], *, label: str = "streamed", clock: Callable[[], float] = time.monotonic
) -> Timeline:
    """Consume ``events`` and stamp each one as it arrives; the clock starts now."""
    timeline = Timeline(label)
    start = clock()
    for event in events:
        timeline.marks.append(Mark(clock() - start, event))
    return timeline


async def arecord(
    events: AsyncIterable[Event],
    *,
    label: str = "streamed",
    clock: Callable[[], float] = time.monotonic,
) -> Timeline:
    """The ``async for`` twin of ``record``."""
    timeline = Timeline(label)
    start = clock()
    async for event in events:
        timeline.marks.append(Mark(clock() - start, event))
    return timeline


def record_buffered(
    events: Iterable[Event],
    *,
    label: str = "not streamed",
    clock: Callable[[], float] = time.monotonic,
) -> Timeline:
    """Like a non-streaming request: nothing is seen until the whole run is over."""
    start = clock()
    everything = list(events)
    arrived = clock() - start
    return Timeline(label, [Mark(arrived, event) for event in everything])


def _clusters(milestones: dict[str, float], span: float) -> list[list[tuple[str, float]]]:
    """Milestones closer than 2% of the axis share one dot and one label, so labels never overlap.

    Example: ``{'status': 0.0, 'tool_call': 0.001, 'end': 2.0}`` with span 2.0
    -> ``[[('status', 0.0), ('tool_call', 0.001)], [('end', 2.0)]]``
    """
    groups: list[list[tuple[str, float]]] = []
    for name, seconds in sorted(milestones.items(), key=lambda item: item[1]):
        if groups and seconds - groups[-1][0][1] <= 0.02 * span:
            groups[-1].append((name, seconds))
        else:
            groups.append([(name, seconds)])
    return groups


def plot(*timelines: Timeline, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Draw each timeline as a row: small ticks for tokens, labelled dots for the milestones."""
    if not timelines:
        raise ValueError("plot needs at least one Timeline")
    for timeline in timelines:
        if not isinstance(timeline, Timeline):
            raise TypeError(f"plot takes Timeline objects, got {type(timeline).__name__}")
    # Imported here: the rest of the lab runs without matplotlib. A bare Figure, not
    # pyplot's: a notebook shows it once, as the cell's value, and never twice.
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(9, 1.2 + 1.1 * len(timelines)))
        ax = fig.subplots()
    else:
        fig = ax.get_figure()  # type: ignore[assignment]
    span = max(t.total for t in timelines) or 1.0
    for row, timeline in enumerate(reversed(timelines)):
        tokens = [m.seconds for m in timeline.marks if m.event.type == "token"]
        ax.plot(tokens, [row] * len(tokens), "|", color="#1f77b4", alpha=0.5, markersize=12)
        ax.hlines(row, 0, timeline.total, color="#cccccc", zorder=0)
        for i, group in enumerate(_clusters(timeline.milestones(), span)):
            seconds = group[0][1]
            names = [name for name, _ in group]
            ax.plot([seconds], [row], "o", color=_COLORS[names[-1]], zorder=3)
            ax.annotate(
                " + ".join(name.replace("_", " ") for name in names),
                (seconds, row),
                textcoords="offset points",
                xytext=(0, 10 if i % 2 == 0 else -16),
                # Labels near the right edge grow leftwards, so they stay inside the axes.
                ha="right" if seconds > 0.8 * span and len(names) > 1 else "center",
                fontsize=8,
                color=_COLORS[names[0]],
            )
    ax.set_yticks(range(len(timelines)), [t.label for t in reversed(timelines)])
    ax.set_ylim(-0.8, len(timelines) - 0.2)
    ax.set_xlim(left=-0.05)
    ax.set_xlabel("seconds since the request")
    ax.set_title(title or "When the user sees each part of the run")
    ax.spines[["top", "right", "left"]].set_visible(False)
    fig.tight_layout()
    return fig
