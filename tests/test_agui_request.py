"""Reading an AG-UI request: the question is the last user message's text, a bad body a precise 422."""

from __future__ import annotations

import re

import httpx
import pytest
from ag_ui.encoder import EventEncoder

from labsupport.agui_request import parse_request
from tests.support.dialect_bodies import RUN_ID, THREAD_ID, agui_body
from tests.support.secret import AUTH

QUESTION = "Who runs billing?"


# -- bad requests ---------------------------------------------------------------------------

BAD_REQUESTS: list[tuple[str, object, str]] = [
    (
        "array",
        [agui_body(QUESTION)],
        "the body must be a JSON object (a RunAgentInput), got an array",
    ),
    (
        "string",
        "Who runs billing?",
        "the body must be a JSON object (a RunAgentInput), got a string",
    ),
    (
        "empty object",
        {},
        "threadId: required, but missing; runId: required, but missing; messages: required, but missing",
    ),
    (
        "thread id a number",
        agui_body(QUESTION, threadId=7),
        "threadId: should be a valid string, got a number",
    ),
    (
        "messages not a list",
        agui_body(QUESTION, messages="hi"),
        "messages: should be a valid list, got a string",
    ),
    (
        "message without role",
        agui_body(QUESTION, messages=[{"id": "m0", "content": "hi"}]),
        "messages[0]: has no 'role' field, which says what kind it is",
    ),
    (
        "unknown role",
        agui_body(QUESTION, messages=[{"id": "m0", "role": "bot", "content": "hi"}]),
        "messages[0]: 'role' is 'bot'; expected one of 'developer', 'system', 'assistant', 'user', 'tool', 'activity', 'reasoning'",
    ),
    (
        "user message without content",
        agui_body(QUESTION, messages=[{"id": "m0", "role": "user"}]),
        "messages[0].content: required, but missing",
    ),
    (
        "content a number",
        agui_body(QUESTION, messages=[{"id": "m0", "role": "user", "content": 5}]),
        "messages[0].content: should be a valid string or a valid list, got a number",
    ),
    (
        "text part without text",
        agui_body(QUESTION, messages=[{"id": "m0", "role": "user", "content": [{"type": "text"}]}]),
        "messages[0].content[0].text: required, but missing",
    ),
    ("no messages", agui_body(), "messages is empty; send the question as a user message"),
    (
        "no user message",
        agui_body(
            messages=[
                {"id": "s", "role": "system", "content": "Be brief."},
                {"id": "a", "role": "assistant", "content": "Hello!"},
            ]
        ),
        "messages has no user message (roles found: assistant, system)",
    ),
    (
        "no text in the last user message",
        agui_body(
            QUESTION,
            messages=[
                {"id": "m0", "role": "user", "content": QUESTION},
                {
                    "id": "m1",
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "url", "value": "https://example.org/a.png"},
                        }
                    ],
                },
            ],
        ),
        "messages[1], the last user message, has no text part (its content holds image); this agent answers text",
    ),
]


@pytest.mark.parametrize(
    ("payload", "detail"), [(p, d) for _, p, d in BAD_REQUESTS], ids=[n for n, _, _ in BAD_REQUESTS]
)
def test_a_bad_request_is_refused_saying_precisely_what_is_wrong(
    payload: object, detail: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(detail)}$"):
        parse_request(payload)


def test_the_question_is_the_text_of_the_last_user_message() -> None:
    body = agui_body(
        messages=[
            {"id": "u1", "role": "user", "content": "Who is on call?"},
            {"id": "a1", "role": "assistant", "content": "The rotation is weekly."},
            {
                "id": "u2",
                "role": "user",
                "content": [
                    {"type": "text", "text": "Who runs billing?"},
                    {
                        "type": "image",
                        "source": {"type": "url", "value": "https://example.org/a.png"},
                    },
                    {"type": "text", "text": "Answer briefly."},
                ],
            },
            {"id": "t1", "role": "tool", "toolCallId": "c1", "content": "{}"},
        ]
    )
    question, encoder = parse_request(body)
    assert question == "Who runs billing?\nAnswer briefly."
    assert (encoder.thread_id, encoder.run_id) == (THREAD_ID, RUN_ID)
    assert encoder.media_type == EventEncoder().get_content_type() == "text/event-stream"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "detail"), [(p, d) for _, p, d in BAD_REQUESTS], ids=[n for n, _, _ in BAD_REQUESTS]
)
def test_post_ag_ui_refuses_a_bad_request_with_422_and_the_reason(
    lab_url: str, payload: object, detail: str
) -> None:
    response = httpx.post(f"{lab_url}/ag-ui", json=payload, timeout=30, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"].endswith(detail)


@pytest.mark.slow
def test_post_ag_ui_applies_the_servers_question_checks(lab_url: str) -> None:
    response = httpx.post(f"{lab_url}/ag-ui", json=agui_body("   "), timeout=30, headers=AUTH)
    assert response.status_code == 422
    assert "the last user message must not be empty" in response.json()["detail"]
