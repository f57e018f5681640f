"""Every endpoint of the lab server that starts, reads, resumes or cancels work, or shows counters.

One request each, for the tests that must hold for all of them (the secret, the
Host and cross-site checks): ``WORK`` as ``(method, path, httpx keyword arguments)``.
"""

from __future__ import annotations

from typing import Any

from tests.support.dialect_bodies import agui_body, chat_body, user

QUESTION = "Who runs billing?"
COMPLETION = {"model": "lab-mock-1", "messages": [{"role": "user", "content": QUESTION}]}

WORK: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/chat/stream", {"params": {"message": QUESTION}}),
    ("POST", "/chat/stream", {"json": {"message": QUESTION}}),
    ("POST", "/runs/run_0123456789abcdef/cancel", {}),
    ("GET", "/stats", {}),
    ("POST", "/ag-ui", {"json": agui_body(QUESTION)}),
    ("POST", "/api/chat", {"json": chat_body(user(QUESTION))}),
    ("GET", "/v1/models", {}),
    ("POST", "/v1/chat/completions", {"json": COMPLETION}),
]
WORK_IDS = [f"{method} {path}" for method, path, _ in WORK]
