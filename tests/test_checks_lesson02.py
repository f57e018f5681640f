"""Lesson 02's checks: a right answer passes, each kind of event gets its own hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labsupport.checks import Check, exercise, lesson02
from labsupport.events import Event


def good_describe(event: Event) -> str | None:
    if event.type == "status":
        return f"· {event.message}"
    if event.type == "tool_call":
        return f"→ {event.name} {event.arguments}"
    if event.type == "tool_result":
        return f"← {event.name}: " + ", ".join(s.doc_id for s in event.sources)
    return None


def status_without_dot(event: Event) -> str | None:
    return event.message if event.type == "status" else good_describe(event)


def tool_call_as_json(event: Event) -> str | None:
    if event.type == "tool_call":
        return f"→ {event.name} {event.model_dump_json()}"
    return good_describe(event)


def tool_result_with_titles(event: Event) -> str | None:
    if event.type == "tool_result":
        return f"← {event.name}: " + ", ".join(s.title for s in event.sources)
    return good_describe(event)


def tokens_as_lines(event: Event) -> str | None:
    return event.text if event.type == "token" else good_describe(event)


def thoughts_as_lines(event: Event) -> str | None:
    return f"· {event.text}" if event.type == "thought" else good_describe(event)


def citations_as_lines(event: Event) -> str | None:
    return f"[{event.doc_id}]" if event.type == "citation" else good_describe(event)


def done_as_a_line(event: Event) -> str | None:
    return "· done" if event.type == "done" else good_describe(event)


def message_of_tokens(event: Event) -> str | None:
    if event.type == "token":
        return f"· {event.message}"  # type: ignore[union-attr]
    return good_describe(event)


def fresh(check: Callable[..., Check]) -> Callable[..., Check]:
    """The same check with a count of attempts of its own, so earlier tests do not change it."""
    return exercise(check.__wrapped__)  # type: ignore[attr-defined]


def test_describe_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson02.describe(good_describe)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "problem", "hint"),
    [
        (status_without_dot, "status event gave 'thinking'", "a middle dot and a space"),
        (tool_call_as_json, "tool_call event gave", "the arguments dict as Python prints it"),
        (tool_result_with_titles, "'← search_kb: Payments team, Billing cycle'", "doc_id"),
        (tokens_as_lines, "token event gave ' billing'", "writes tokens inline"),
        (thoughts_as_lines, "thought event gave", "only status and tool events make lines"),
        (citations_as_lines, "citation event gave '[D1]'", "listed once, after the answer"),
        (done_as_a_line, "done event gave '· done'", "not a step of progress"),
        (
            message_of_tokens,
            "raised AttributeError",
            "check event.type before reading a field: a token event",
        ),
    ],
    ids=[
        "status",
        "tool-call",
        "tool-result",
        "token",
        "thought",
        "citation",
        "done",
        "raises-on-token",
    ],
)
def test_describe_gives_the_hint_for_the_kind_of_event_it_gets_wrong(
    func: Callable[[Event], Any], problem: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not fresh(lesson02.describe)(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    before_hint, after_hint = out.split("\n   Hint: ")
    assert problem in before_hint and hint in after_hint
    assert "other kind" not in out  # each of these gets exactly one kind wrong
    assert "Still stuck?" not in out


def test_a_blank_describe_hears_of_the_first_kind_and_how_many_more(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert not fresh(lesson02.describe)(lambda event: None)
    out = capsys.readouterr().out
    assert "status event gave None, expected '· thinking'" in out
    assert "(2 other kinds of event wrong too.)" in out


def test_describe_adds_the_stronger_hint_for_that_kind_on_a_second_try(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = fresh(lesson02.describe)
    check(tool_result_with_titles)
    assert "Still stuck?" not in capsys.readouterr().out
    check(tool_result_with_titles)
    assert 'Still stuck? ", ".join(source.doc_id' in capsys.readouterr().out


def good_ends_once(events: list[Event]) -> bool:
    terminal = [i for i, e in enumerate(events) if e.type in ("done", "error")]
    return len(terminal) == 1 and terminal[0] == len(events) - 1


def last_is_terminal(events: list[Event]) -> bool:
    return bool(events) and events[-1].type in ("done", "error")


def has_a_terminal(events: list[Event]) -> bool:
    return any(e.type in ("done", "error") for e in events)


def test_ends_once_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson02.ends_once(good_ends_once)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "problem"),
    [
        (last_is_terminal, "on done twice gave True, expected False"),
        (has_a_terminal, "on a token after done gave True, expected False"),
        (lambda events: None, "on a run ending in done gave None, expected True"),
        (lambda events: 1 / 0, "raised ZeroDivisionError"),
    ],
    ids=["only-the-last", "any-terminal", "blank", "raises"],
)
def test_ends_once_names_the_run_it_gets_wrong(
    func: Callable[[list[Event]], Any], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson02.ends_once(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:") and problem in out
