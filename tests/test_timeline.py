"""The timeline: arrival times recorded against a clock, milestones, and the plot's content."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from labsupport import MockLLM, chat_stream
from labsupport.events import DoneEvent, Event, StatusEvent, TokenEvent, ToolCallEvent
from labsupport.timeline import (
    MILESTONES,
    Mark,
    Timeline,
    _clusters,
    arecord,
    plot,
    record,
    record_buffered,
)


def run_events() -> list[Event]:
    return [
        StatusEvent(run_id="r", seq=0, message="thinking"),
        ToolCallEvent(run_id="r", seq=1, call_id="c1", name="search_kb", arguments={}),
        TokenEvent(run_id="r", seq=2, text="Dana"),
        TokenEvent(run_id="r", seq=3, text=" leads"),
        DoneEvent(run_id="r", seq=4),
    ]


class FakeClock:
    """Advances by a scripted step on every reading."""

    def __init__(self, steps: list[float]) -> None:
        self.now = 100.0
        self.steps = iter(steps)

    def __call__(self) -> float:
        self.now += next(self.steps, 0.0)
        return self.now


def test_record_stamps_each_event_with_seconds_since_the_start() -> None:
    clock = FakeClock([0.0, 0.1, 0.0, 0.7, 0.04, 0.01])
    timeline = record(iter(run_events()), clock=clock)
    assert [round(m.seconds, 6) for m in timeline.marks] == [0.1, 0.1, 0.8, 0.84, 0.85]
    assert timeline.milestones() == pytest.approx(
        {"status": 0.1, "tool_call": 0.1, "first_token": 0.8, "last_token": 0.84, "end": 0.85}
    )
    assert timeline.time_to_first_token == pytest.approx(0.8)
    assert timeline.total == pytest.approx(0.85)


async def test_arecord_records_an_async_stream_like_record() -> None:
    async def stream() -> AsyncIterator[Event]:
        for event in run_events():
            yield event

    clock = FakeClock([0.0, 0.1, 0.0, 0.7, 0.04, 0.01])
    timeline = await arecord(stream(), clock=clock, label="async")
    assert timeline.label == "async"
    assert timeline.order == list(MILESTONES)
    assert timeline.time_to_first_token == pytest.approx(0.8)


def test_record_buffered_shows_every_event_at_the_end() -> None:
    clock = FakeClock([0.0, 2.0])
    timeline = record_buffered(iter(run_events()), clock=clock)
    assert {m.seconds for m in timeline.marks} == {2.0}
    assert timeline.order == list(MILESTONES)  # ties keep the usual order
    assert timeline.label == "not streamed"


def test_a_run_without_tokens_has_no_token_milestones() -> None:
    events = [StatusEvent(run_id="r", seq=0, message="thinking"), DoneEvent(run_id="r", seq=1)]
    timeline = Timeline("t", [Mark(0.0, events[0]), Mark(0.5, events[1])])
    assert timeline.milestones() == {"status": 0.0, "end": 0.5}
    assert timeline.time_to_first_token is None


def test_a_paced_run_reaches_its_first_token_before_half_of_its_total() -> None:
    llm = MockLLM(ttft=0.2, tokens_per_second=100, tool_delay=0.0)
    timeline = record(chat_stream("Who runs billing?", llm=llm))
    first = timeline.time_to_first_token
    assert first is not None and 0.15 <= first < timeline.total / 2 + 0.1
    assert timeline.order == list(MILESTONES)


def test_clusters_merge_milestones_closer_than_two_percent_of_the_axis() -> None:
    groups = _clusters({"status": 0.0, "tool_call": 0.001, "end": 2.0}, 2.0)
    assert groups == [[("status", 0.0), ("tool_call", 0.001)], [("end", 2.0)]]


def test_plot_draws_one_labelled_row_per_timeline() -> None:
    streamed = Timeline("streamed", [Mark(float(i), e) for i, e in enumerate(run_events())])
    buffered = Timeline("not streamed", [Mark(4.0, e) for e in run_events()])
    fig = plot(streamed, buffered, title="demo")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["not streamed", "streamed"]
    labels = {t.get_text() for t in ax.texts}
    assert {"status", "tool call", "first token", "last token", "end"} <= labels
    assert "status + tool call + first token + last token + end" in labels
    assert ax.get_title() == "demo"


def test_plot_refuses_what_is_not_a_timeline() -> None:
    with pytest.raises(ValueError, match="at least one Timeline"):
        plot()
    with pytest.raises(TypeError, match="got list"):
        plot([])  # type: ignore[arg-type]


def test_record_consumes_a_generator_to_its_end() -> None:
    closed: list[bool] = []

    def stream() -> Iterator[Event]:
        try:
            yield from run_events()
        finally:
            closed.append(True)

    assert len(record(stream()).marks) == 5
    assert closed == [True]
