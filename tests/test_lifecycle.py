"""The lifecycle validator rejects each kind of broken stream, saying which event broke which rule."""

from __future__ import annotations

import pytest

from labsupport import MockLLM, chat_stream
from labsupport.events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    TokenEvent,
    ToolResultEvent,
)
from labsupport.lifecycle import (
    LifecycleChecker,
    LifecycleError,
    check_stream,
    checked,
    validate_stream,
)

RUN = "run_t"


@pytest.fixture
def good() -> list[Event]:
    return list(chat_stream("Who runs billing?", llm=MockLLM.instant(), run_id=RUN))


def renumber(events: list[Event]) -> list[Event]:
    return [e.model_copy(update={"seq": i}) for i, e in enumerate(events)]


def rules(events: list[Event], **kw: bool) -> list[str]:
    return [v.rule for v in check_stream(events, **kw)]


def test_a_real_run_is_valid(good: list[Event]) -> None:
    assert check_stream(good) == []
    validate_stream(good)


def test_missing_terminal_event(good: list[Event]) -> None:
    violations = check_stream(good[:-1])
    assert [v.rule for v in violations] == ["one-terminal"]
    assert violations[0].index is None
    assert "ended without a terminal event" in str(violations[0])


def test_event_after_terminal(good: list[Event]) -> None:
    late = TokenEvent(run_id=RUN, seq=len(good), text="late")
    (violation,) = check_stream([*good, late])
    assert violation.rule == "after-terminal"
    assert violation.index == len(good)
    assert (
        violation.message
        == f"token (seq {len(good)}) comes after the terminal event done (seq {len(good) - 1})"
    )


def test_two_terminal_events(good: list[Event]) -> None:
    extra = ErrorEvent(run_id=RUN, seq=len(good), code="x", message="y")
    assert rules([*good, extra]) == ["after-terminal"]


def test_seq_gap(good: list[Event]) -> None:
    broken = good[:5] + good[6:]
    violations = check_stream(broken)
    assert violations[0].rule == "seq-gap-free"
    assert violations[0].message == "citation (seq 6) should have seq 5"


def test_other_run_id(good: list[Event]) -> None:
    broken = list(good)
    broken[3] = broken[3].model_copy(update={"run_id": "run_other"})
    assert rules(broken) == ["one-run"]


def test_cost_after_done_is_reported(good: list[Event]) -> None:
    cost, done = good[-2], good[-1]
    broken = renumber([*good[:-2], done, cost])
    assert rules(broken) == ["cost-before-done", "after-terminal"]


def test_done_without_cost(good: list[Event]) -> None:
    broken = renumber([e for e in good if e.type != "cost"])
    assert rules(broken) == ["cost-before-done"]


def test_citation_of_a_document_no_tool_returned(good: list[Event]) -> None:
    broken = list(good)
    broken[5] = CitationEvent(run_id=RUN, seq=5, doc_id="D12", title="Remote work policy")
    (violation,) = check_stream(broken)
    assert violation.rule == "citation-grounded"
    assert violation.index == 5
    assert (
        "cites D12, which no earlier tool_result returned (returned: D1, D3, D7)"
        in violation.message
    )


def test_citation_before_the_tool_result(good: list[Event]) -> None:
    broken = renumber([good[0], good[5], *good[1:5], *good[6:]])
    assert "citation-grounded" in rules(broken)


def test_tool_result_for_an_unknown_call(good: list[Event]) -> None:
    broken = list(good)
    assert isinstance(broken[4], ToolResultEvent)
    broken[4] = broken[4].model_copy(update={"call_id": "call_nope"})
    assert rules(broken) == ["tool-result-call"]


def test_cancelled_run_must_not_have_a_terminal_event(good: list[Event]) -> None:
    assert check_stream(good[:12], cancelled=True) == []
    assert rules(good, cancelled=True) == ["cancelled"]


def test_validate_stream_raises_listing_every_violation(good: list[Event]) -> None:
    with pytest.raises(LifecycleError) as info:
        validate_stream(good[:5] + good[6:-1])
    assert [v.rule for v in info.value.violations] == ["seq-gap-free"] * 33 + ["one-terminal"]
    assert str(info.value).startswith("the stream broke 34 lifecycle rule(s):")


def test_checker_accepts_dicts_as_they_come_off_the_wire(good: list[Event]) -> None:
    assert check_stream([e.to_dict() for e in good]) == []


def test_checked_raises_at_the_offending_event(good: list[Event]) -> None:
    late = TokenEvent(run_id=RUN, seq=len(good), text="late")
    passed = []
    with pytest.raises(LifecycleError, match="after-terminal"):
        for event in checked([*good, late]):
            passed.append(event)
    assert passed == good


def test_checked_closing_early_is_a_cancellation_not_an_error() -> None:
    llm = MockLLM.instant()
    stream = checked(chat_stream("Who runs billing?", llm=llm))
    for event in stream:
        if event.type == "token":
            break
    stream.close()
    assert llm.tokens_generated == 1, "closing the checker closed the agent"


def test_incremental_checker_reports_at_feed_time() -> None:
    checker = LifecycleChecker()
    assert checker.feed(DoneEvent(run_id=RUN, seq=0))[0].rule == "cost-before-done"
    assert (
        checker.feed(CostEvent(run_id=RUN, seq=1, prompt_tokens=1, completion_tokens=1, usd=0))[
            0
        ].rule
        == "after-terminal"
    )
    assert [v.rule for v in checker.finish()] == ["cost-before-done", "after-terminal"]
