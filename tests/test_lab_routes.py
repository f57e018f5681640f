"""The lab's routes as a client meets them: the page, the documented request, the dialects."""

from __future__ import annotations

from typing import Any

from tests.support.secret import asgi_client


async def test_page_is_served_and_uses_only_relative_urls(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.get("/")
    page = response.text
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'const STREAM_URL = "chat/stream";' in page
    assert '"/chat' not in page and "'/chat" not in page
    assert '"Accept": "text/event-stream"' in page
    assert "innerHTML" not in page


async def test_openapi_documents_the_chat_body_and_the_stream_it_answers(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        schema = (await client.get("/openapi.json")).json()
    post = schema["paths"]["/chat/stream"]["post"]
    body = post["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["message"]
    assert body["example"] == {"message": "Who runs billing?"}
    assert "text/event-stream" in post["responses"]["200"]["content"]
    assert set(post["responses"]) >= {"200", "422"}
    summaries = {path: schema["paths"][path]["post"]["summary"] for path in ("/ag-ui", "/api/chat")}
    assert summaries == {
        "/ag-ui": "Run the agent, streaming AG-UI events (RunAgentInput in)",
        "/api/chat": "Run the agent, streaming an AI SDK UI message stream (useChat)",
    }


async def test_replaying_a_chat_nobody_started_answers_204(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.get("/api/chat/chat-never-seen/stream")
    assert response.status_code == 204
    assert response.content == b""


async def test_cancel_of_an_unknown_run_is_404_with_a_reason(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.post("/runs/run_0123456789ab/cancel")
    assert response.status_code == 404
    assert "run_0123456789ab" in response.json()["detail"]
