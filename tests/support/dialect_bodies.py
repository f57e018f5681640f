"""Request bodies as the stock dialect clients send them: AG-UI's ``HttpAgent`` and ``useChat``."""

from __future__ import annotations

from typing import Any

THREAD_ID = "thread_1"
RUN_ID = "agui_run_1"


def agui_body(*questions: str, **fields: Any) -> dict[str, Any]:
    """A RunAgentInput as HttpAgent sends it: camelCase, the conversation so far."""
    messages = [
        {"id": f"m{i}", "role": "user", "content": question} for i, question in enumerate(questions)
    ]
    return {
        "threadId": THREAD_ID,
        "runId": RUN_ID,
        "state": {},
        "messages": messages,
        "tools": [],
        "context": [],
        "forwardedProps": {},
        **fields,
    }


def user(text: str, msg_id: str = "u1") -> dict[str, Any]:
    """A user message as useChat keeps it: one text part."""
    return {"id": msg_id, "role": "user", "parts": [{"type": "text", "text": text}]}


def chat_body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The body useChat's default transport POSTs."""
    return {"id": "chat-1", "messages": list(messages), "trigger": "submit-message", **extra}
