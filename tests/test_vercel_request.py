"""Reading an AI SDK chat request: the question is the last user message's text, a bad body a 422."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from labsupport.vercel import VercelEncoder
from labsupport.vercel_request import parse_request
from tests.support.dialect_bodies import chat_body, user
from tests.support.secret import AUTH

QUESTION = "Who runs billing?"
SECOND_QUESTION = "Who leads the Platform team?"
JS_DIR = Path(__file__).parent / "js"
CLIENT = JS_DIR / "vercel_client.mjs"


# -- the request ---------------------------------------------------------------------


# An assistant message exactly as useChat keeps it after a run of this server.
EARLIER_ANSWER = {
    "id": "msg_1",
    "role": "assistant",
    "metadata": {"runId": "run_1"},
    "parts": [
        {"type": "reasoning", "id": "reasoning_1", "text": "I will search.", "state": "done"},
        {
            "type": "tool-search_kb",
            "toolCallId": "call_1",
            "state": "output-available",
            "input": {"query": "runs billing", "k": 3},
            "output": {"sources": []},
        },
        {"type": "source-document", "sourceId": "D1", "mediaType": "text/plain", "title": "T"},
        {"type": "text", "text": "The Payments team.", "state": "done"},
    ],
}


@pytest.mark.parametrize(
    ("payload", "question"),
    [
        (chat_body(user(QUESTION)), QUESTION),
        (chat_body(user(QUESTION), EARLIER_ANSWER, user(SECOND_QUESTION, "u2")), SECOND_QUESTION),
        (
            {**chat_body(user(QUESTION)), "trigger": "regenerate-message", "messageId": "m"},
            QUESTION,
        ),
        (chat_body(user(QUESTION), EARLIER_ANSWER), QUESTION),
        (chat_body(user(QUESTION), sessionId="abc", messageId=None), QUESTION),
        (
            chat_body({"id": "u", "role": "user", "parts": [{"type": "text", "text": "a"}] * 2}),
            "a\na",
        ),
        (
            chat_body(
                {
                    "id": "u",
                    "role": "user",
                    "parts": [
                        {"type": "file", "mediaType": "image/png", "url": "data:,"},
                        {"type": "text", "text": QUESTION},
                    ],
                }
            ),
            QUESTION,
        ),
    ],
    ids=[
        "first-turn",
        "second-turn-with-history",
        "regenerate",
        "last-message-is-the-assistant",
        "extra-body-fields",
        "two-text-parts",
        "file-and-text",
    ],
)
def test_the_question_is_the_last_user_messages_text(payload: object, question: str) -> None:
    got, encoder = parse_request(payload)
    assert got == question
    assert isinstance(encoder, VercelEncoder)


BAD_BODIES: list[tuple[object, str]] = [
    (
        [user(QUESTION)],
        'the body must be a JSON object like {"id": "...", "messages": [...], '
        '"trigger": "submit-message"}, got an array',
    ),
    ({"messages": [user(QUESTION)], "trigger": "submit-message"}, "field 'id' is required"),
    (chat_body(), "field 'messages' must not be empty"),
    (
        {**chat_body(), "messages": {"0": user(QUESTION)}},
        "field 'messages': input should be a valid list, got an object",
    ),
    (
        chat_body({**user(QUESTION), "role": "bot"}),
        "field 'messages[0].role': input should be 'system', 'user' or 'assistant', got \"bot\"",
    ),
    (
        chat_body(user(QUESTION), {"id": "u2", "role": "user", "parts": [{"type": "text"}]}),
        "field 'messages[1].parts[0]': a 'text' part needs a 'text' string",
    ),
    (
        chat_body({"id": "u", "role": "user", "parts": [{"type": "text", "text": 42}]}),
        "field 'messages[0].parts[0].text': input should be a valid string, got 42",
    ),
    (
        chat_body({"id": "u", "role": "user", "parts": "Who?"}),
        "field 'messages[0].parts': input should be a valid list, got \"Who?\"",
    ),
    (chat_body({"role": "user", "parts": []}), "field 'messages[0].id' is required"),
    (
        chat_body(user("   ")),
        "messages[0], the last user message, has no text: give it a part like "
        '{"type": "text", "text": "Who runs billing?"}',
    ),
    (chat_body(EARLIER_ANSWER), "messages holds no message with role 'user': there is no question"),
    (
        {**chat_body(user(QUESTION)), "trigger": "resume-stream"},
        "field 'trigger': input should be 'submit-message' or 'regenerate-message', "
        'got "resume-stream"',
    ),
    ({"id": "c", "messages": [user(QUESTION)]}, "field 'trigger' is required"),
]


BAD_IDS = [
    "not-an-object",
    "no-chat-id",
    "no-messages",
    "messages-not-a-list",
    "bad-role",
    "text-part-without-text",
    "text-not-a-string",
    "parts-not-a-list",
    "message-without-id",
    "blank-question",
    "no-user-message",
    "unknown-trigger",
    "no-trigger",
]


@pytest.mark.parametrize(
    ("payload", "detail"),
    BAD_BODIES,
    ids=BAD_IDS,
)
def test_a_bad_body_is_refused_with_what_is_wrong(payload: object, detail: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(detail)}$"):
        parse_request(payload)


@pytest.mark.parametrize(("payload", "detail"), BAD_BODIES, ids=BAD_IDS)
def test_a_bad_body_gets_422_with_the_detail_over_http(
    lab_url: str, payload: object, detail: str
) -> None:
    response = httpx.post(f"{lab_url}/api/chat", json=payload, timeout=10, headers=AUTH)
    assert response.status_code == 422
    assert response.json() == {"detail": f"not a valid AI SDK chat request: {detail}"}
