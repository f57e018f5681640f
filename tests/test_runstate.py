"""RunState folds events into what a UI shows."""

from __future__ import annotations

import pytest

from labsupport import MockLLM, RunState, chat_stream
from labsupport.events import DoneEvent, ErrorEvent, StatusEvent, TokenEvent


def test_a_finished_run(llm: MockLLM) -> None:
    state = RunState()
    events = list(chat_stream("Who runs billing?", llm=llm, run_id="run_s"))
    for event in events:
        state.apply(event)
    assert state.outcome == "finished" and state.ended and state.status == "done"
    assert state.run_id == "run_s" and state.event_count == len(events)
    assert state.citations == [("D1", "Payments team"), ("D3", "Dana Okafor")]
    assert state.answer.endswith("[D1, D3]") and state.token_count == llm.tokens_generated
    assert state.cost is not None and state.cost.completion_tokens == state.token_count
    assert [s.kind for s in state.steps] == [
        "status",
        "thought",
        "status",
        "tool_call",
        "tool_result",
        "status",
    ]
    assert state.steps[3].text == 'search_kb(query="runs billing", k=3)'
    assert state.steps[4].text == "search_kb found D1, D3, D7"


def test_status_tracks_the_latest_status_and_answer_grows() -> None:
    state = RunState()
    assert (state.outcome, state.status, state.answer) == ("waiting", "waiting", "")
    state.apply(StatusEvent(run_id="r", seq=0, message="thinking"))
    assert (state.outcome, state.status) == ("running", "thinking")
    state.apply(TokenEvent(run_id="r", seq=1, text="Hello"))
    state.apply(TokenEvent(run_id="r", seq=2, text=" world"))
    assert state.answer == "Hello world" and state.token_count == 2


def test_error_and_cancel_end_the_run() -> None:
    failed = RunState()
    failed.apply(ErrorEvent(run_id="r", seq=0, code="model_error", message="boom"))
    assert failed.outcome == "error" and failed.error is not None and failed.error.message == "boom"
    failed.cancel()
    assert failed.outcome == "error", "cancel after the end changes nothing"

    stopped = RunState()
    stopped.apply(TokenEvent(run_id="r", seq=0, text="Hi"))
    stopped.cancel()
    assert (stopped.outcome, stopped.status, stopped.answer) == ("cancelled", "stopped", "Hi")


def test_events_after_the_end_are_refused() -> None:
    state = RunState()
    state.cancel()
    with pytest.raises(ValueError, match=r"the run already ended \(cancelled\); got token seq 0"):
        state.apply(TokenEvent(run_id="r", seq=0, text="late"))


def test_tokens_of_a_running_run_update_every_field_as_other_events_do() -> None:
    # A token of a running run takes a shorter path than the run's first event: same fields.
    state = RunState()
    state.apply(TokenEvent(run_id="r1", seq=0, text="Hi"))  # first event: the general path
    state.apply(TokenEvent(run_id="r2", seq=1, text=" there"))
    assert (state.run_id, state.event_count, state.token_count) == ("r2", 2, 2)
    assert (state.outcome, state.status, state.answer) == ("running", "waiting", "Hi there")


@pytest.mark.parametrize("end", ["done", "error", "cancel"])
def test_a_token_after_any_end_is_refused(end: str) -> None:
    state = RunState()
    state.apply(TokenEvent(run_id="r", seq=0, text="Hi"))
    if end == "done":
        state.apply(DoneEvent(run_id="r", seq=1))
    elif end == "error":
        state.apply(ErrorEvent(run_id="r", seq=1, code="model_error", message="boom"))
    else:
        state.cancel()
    with pytest.raises(ValueError, match="the run already ended"):
        state.apply(TokenEvent(run_id="r", seq=2, text="late"))
    assert (state.answer, state.token_count, state.event_count) == ("Hi", 1, 1 + (end != "cancel"))
