"""Lesson 10's checks: a right answer passes, the usual mistakes get the matching hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labsupport.checks import lesson10
from labsupport.events import Event


def good_read(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"text": "", "sources": [], "steps": 0}
    for part in parts:
        kind = part["type"]
        if kind == "text":
            out["text"] += part["text"]
        elif kind == "source-document":
            out["sources"].append(part["sourceId"])
        elif kind == "reasoning" or kind.startswith("tool-"):
            out["steps"] += 1
    return out


def read_with_reasoning_text(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out = good_read(parts)
    out["text"] = "".join(p.get("text", "") for p in parts)
    return out


def read_counting_step_start(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {**good_read(parts), "steps": sum(1 for p in parts if p["type"] != "text") - 2}


def good_announcements(events: list[Event]) -> list[str]:
    said: list[str] = []
    text = ""
    for event in events:
        if event.type == "status" and (not said or said[-1] != event.message):
            said.append(event.message)
        elif event.type == "token":
            text += event.text
        elif event.type == "done":
            said.append(f"Done. The answer: {text}")
    return said


def every_token(events: list[Event]) -> list[str]:
    return [e.text for e in events if e.type == "token"]


def repeats_statuses(events: list[Event]) -> list[str]:
    said = [e.message for e in events if e.type == "status"]
    text = "".join(e.text for e in events if e.type == "token")
    return [*said, f"Done. The answer: {text}"] if text else said


def test_read_message_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson10.read_message(good_read)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (read_with_reasoning_text, "exactly 'text' (not 'reasoning')"),
        (read_counting_step_start, "'step-start' is the SDK's own marker"),
        (lambda parts: None, "expected a dict"),
    ],
    ids=["reasoning-in-text", "step-start-counted", "blank"],
)
def test_read_message_explains_the_usual_mistakes(
    func: Callable[[list[dict[str, Any]]], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson10.read_message(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet") and hint in out


def test_announcements_passes_a_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert lesson10.announcements(good_announcements)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (every_token, "cannot keep up with one announcement per token"),
        (repeats_statuses, "only when it differs from the last one"),
        (lambda events: None, "expected a list of strings"),
    ],
    ids=["per-token", "repeats", "blank"],
)
def test_announcements_explains_the_usual_mistakes(
    func: Callable[[list[Event]], Any], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson10.announcements(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet") and hint in out
