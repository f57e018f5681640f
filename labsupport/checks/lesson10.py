"""Checks for lesson 10 (appendix: the same stream in React)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..agent import chat_stream
from ..events import Event, StatusEvent
from ..mockllm import MockLLM
from ._report import Check, attempt, exercise, fail, ok

__all__ = ["announcements", "read_message"]

# An assistant message as useChat keeps it, part by part (the shapes of the AI SDK's UIMessage).
PARTS: list[dict[str, Any]] = [
    {"type": "step-start"},
    {"type": "reasoning", "text": "I will search the knowledge base.", "state": "done"},
    {
        "type": "tool-search_kb",
        "toolCallId": "call_1",
        "state": "output-available",
        "input": {"query": "billing", "k": 3},
        "output": {"sources": [{"doc_id": "D1"}, {"doc_id": "D3"}]},
    },
    {"type": "source-document", "sourceId": "D1", "title": "Payments team"},
    {"type": "source-document", "sourceId": "D3", "title": "Dana Okafor"},
    {"type": "text", "text": "Dana Okafor leads the Payments team.", "state": "done"},
]


@exercise
def read_message(func: Callable[[list[dict[str, Any]]], Any]) -> Check:
    """Exercise 1: ``read_message(parts)`` gives the answer text, the source ids and the steps."""
    expected = {
        "text": "Dana Okafor leads the Payments team.",
        "sources": ["D1", "D3"],
        "steps": 2,
    }
    result = attempt(func, PARTS)
    if result.error is not None:
        return fail(
            f"read_message(parts) raised {result.describe_error()}",
            "loop over the parts and look at part['type'] first.",
        )
    got = result.value
    if not isinstance(got, dict) or set(got) != set(expected):
        return fail(
            f"it returned {got!r}, expected a dict with the keys 'text', 'sources' and 'steps'.",
            "start from {'text': '', 'sources': [], 'steps': 0} and fill it in.",
        )
    if got["text"] != expected["text"]:
        return fail(
            f"text is {got['text']!r}, expected {expected['text']!r}.",
            "add up the 'text' of the parts whose type is exactly 'text' (not 'reasoning').",
        )
    if got["sources"] != expected["sources"]:
        return fail(
            f"sources is {got['sources']!r}, expected ['D1', 'D3'].",
            "a cited document is a 'source-document' part; its id is part['sourceId'].",
            stronger="the tool's output lists D1 and D3 too, but what the answer cites are "
            "the source-document parts: take only those.",
        )
    if got["steps"] != expected["steps"]:
        return fail(
            f"steps is {got['steps']!r}, expected 2 (one thought, one tool call).",
            "count the 'reasoning' parts and the parts whose type starts with 'tool-'; "
            "'step-start' is the SDK's own marker, not a step of the agent.",
        )
    return ok("read_message() reads the answer, its sources and the agent's steps from the parts.")


def _events(question: str = "Who runs billing?") -> list[Event]:
    return list(chat_stream(question, llm=MockLLM.instant(), run_id="run_check10"))


@exercise
def announcements(func: Callable[[list[Event]], Any]) -> Check:
    """Exercise 2: what a polite status region says: each new status, then the answer once."""
    events = _events()
    answer = "".join(e.text for e in events if e.type == "token")
    statuses = [e.message for e in events if isinstance(e, StatusEvent)]
    expected = [*statuses, f"Done. The answer: {answer}"]
    result = attempt(func, events)
    if result.error is not None:
        return fail(
            f"announcements(events) raised {result.describe_error()}",
            "switch on event.type: 'status', 'token', 'done' are the ones that matter here.",
        )
    said = result.value
    if not isinstance(said, list):
        return fail(f"it returned {said!r}, expected a list of strings.", "return a list.")
    tokens = sum(1 for e in events if e.type == "token")
    if len(said) >= tokens:
        return fail(
            f"it announces {len(said)} things for an answer of {tokens} tokens.",
            "a screen reader cannot keep up with one announcement per token: "
            "collect the tokens silently and say the answer once, at 'done'.",
        )
    if said != expected:
        return fail(
            f"it returned {said!r}",
            f"expected the statuses in order, then 'Done. The answer: ...': {expected!r}",
        )
    repeated = [
        StatusEvent(run_id="r", seq=0, message="thinking"),
        StatusEvent(run_id="r", seq=1, message="thinking"),
    ]
    twice = attempt(func, repeated)
    if twice.error is not None or twice.value != ["thinking"]:
        shown = twice.describe_error() if twice.error is not None else repr(twice.value)
        return fail(
            f"for the same status twice in a row it gave {shown}, expected ['thinking'].",
            "announce a status only when it differs from the last one announced.",
        )
    return ok("announcements() says each step once and the answer once, never a single token.")
