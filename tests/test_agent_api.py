"""Any agent behind the server: the SDK agent, on a second server's OpenAI-compatible endpoint,
reaches every front end exactly like the mock, stops the provider's spend on Stop, and is counted."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from labsupport import MockLLM, chat_stream, check_stream
from labsupport.agent_api import Agent, MockAgent, OpenAIAgent, Spend
from labsupport.client import astream_events
from labsupport.events import Event
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.openai_agent import openai_chat_stream
from labsupport.server import create_app
from labsupport.view import watch
from tests.support.browser import save_screenshot
from tests.support.openai_server import Endpoint, MockEndpoints
from tests.support.runs import stats

QUESTION = "Who runs billing?"


def serve(endpoint: Endpoint, name: str) -> ServerHandle:
    endpoint.reset()
    return start_server(create_app(agent=OpenAIAgent(endpoint.async_client())), name=name)


def mock_answer() -> str:
    return "".join(
        e.text for e in chat_stream(QUESTION, llm=MockLLM.instant()) if e.type == "token"
    )


def sse_data(body: str) -> list[dict[str, Any]]:
    lines = [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]
    return [json.loads(line) for line in lines if line != "[DONE]"]


def full_run_tokens(lab: MockEndpoints) -> int:
    """Completion tokens of a whole run (tool call and answer), from the provider's usage."""
    events = openai_chat_stream(QUESTION, client=lab["instant"].client())
    return next(e.completion_tokens for e in events if e.type == "cost")


def provider_tokens_settle(endpoint: Endpoint, seconds: float = 0.4) -> int:
    """The provider's generated-token count once it stops changing."""
    before = endpoint.llm.tokens_generated
    while True:
        time.sleep(seconds)
        now = endpoint.llm.tokens_generated
        if now == before:
            return now
        before = now


def test_both_agents_implement_the_protocol() -> None:
    assert isinstance(MockAgent(MockLLM.instant()), Agent)
    assert isinstance(OpenAIAgent(_async_client()), Agent)
    assert MockAgent(MockLLM.instant()).spend() == Spend(tokens_generated=0, cost_usd=0.0)


def _async_client() -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="lab")


def test_a_server_refuses_what_is_not_an_agent() -> None:
    with pytest.raises(TypeError, match="agent must have stream"):
        create_app(agent=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"client must be an openai\.AsyncOpenAI, got str"):
        OpenAIAgent("http://x")  # type: ignore[arg-type]


async def test_sdk_agent_streams_a_valid_run_and_stats_count_the_providers_bill(
    lab: MockEndpoints,
) -> None:
    endpoint = lab["instant"]
    with serve(endpoint, "agent-api-chat") as server:
        events: list[Event] = [e async for e in astream_events(server.url, QUESTION)]
        spent = stats(server)
    assert check_stream(events) == []
    assert "".join(e.text for e in events if e.type == "token") == mock_answer()
    assert [e.doc_id for e in events if e.type == "citation"] == ["D1", "D3"]
    cost = next(e for e in events if e.type == "cost")
    # Both turns (tool call and answer), as the provider billed them.
    assert spent["tokens_generated"] == cost.completion_tokens == endpoint.llm.tokens_generated
    assert spent["cost_usd"] == pytest.approx(endpoint.llm.cost_usd)
    assert spent["runs_completed"] == 1


def test_sdk_agent_speaks_ag_ui_and_the_ai_sdk_stream(lab: MockEndpoints) -> None:
    with serve(lab["instant"], "agent-api-dialects") as server:
        agui = httpx.post(
            server.url_for("/ag-ui"),
            json={
                "threadId": "t1",
                "runId": "r1",
                "state": {},
                "messages": [{"id": "m0", "role": "user", "content": QUESTION}],
                "tools": [],
                "context": [],
                "forwardedProps": {},
            },
        )
        vercel = httpx.post(
            server.url_for("/api/chat"),
            json={
                "id": "chat_1",
                "messages": [
                    {"id": "u1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
                ],
                "trigger": "submit-message",
            },
        )
    frames = sse_data(agui.text)
    assert frames[-1]["type"] == "RUN_FINISHED"
    text = "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == mock_answer()
    chunks = sse_data(vercel.text)
    assert chunks[-1]["type"] == "finish"
    assert "".join(c["delta"] for c in chunks if c["type"] == "text-delta") == mock_answer()


async def test_stopping_the_live_view_stops_the_providers_spend(lab: MockEndpoints) -> None:
    endpoint = lab["paced"]
    with serve(endpoint, "agent-api-view") as server:
        view = watch(astream_events(server.url, QUESTION))
        deadline = time.monotonic() + 10
        while "Dana" not in view.state.answer and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        view.stop()
        await asyncio.sleep(0)
        settled = await asyncio.to_thread(provider_tokens_settle, endpoint)
        full = await asyncio.to_thread(full_run_tokens, lab)
        assert 0 < settled < full, "the provider kept generating after Stop"
        spent = await asyncio.to_thread(stats, server)
    assert view.state.outcome == "cancelled"
    assert 0 < spent["tokens_generated"] <= settled
    assert spent["cost_usd"] > 0
    assert spent["runs_cancelled"] == 1


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_page_in_chromium_streams_the_sdk_agent_and_stop_stops_the_provider(
    lab: MockEndpoints, browser: Any
) -> None:
    endpoint = lab["paced"]
    page = browser.new_page()
    try:
        with serve(endpoint, "agent-api-page") as server:
            page.goto(server.url_for("/"))
            page.fill("#question", QUESTION)
            page.click("#ask")
            page.wait_for_function("document.body.dataset.state === 'finished'", timeout=20000)
            assert page.text_content("#answer") == mock_answer()
            save_screenshot(page, "sdk-agent-page-finished")
            finished = stats(server)["tokens_generated"]
            assert finished == endpoint.llm.tokens_generated > 0

            page.click("#ask")
            page.wait_for_function("document.getElementById('answer').textContent.length > 20")
            page.click("#stop")
            page.wait_for_function("document.body.dataset.state === 'stopped'", timeout=10000)
            save_screenshot(page, "sdk-agent-page-stopped")
            settled = provider_tokens_settle(endpoint)
            after = stats(server)
    finally:
        page.close()
    assert settled - finished < full_run_tokens(lab), "the provider kept generating"
    assert after["runs_cancelled"] == 1
    assert finished < after["tokens_generated"] <= settled
