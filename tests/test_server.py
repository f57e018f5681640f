"""The SSE server: in-process ASGI for the many request shapes, real uvicorn for the wire."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi import APIRouter
from pydantic import ValidationError

from labsupport import MockLLM, check_stream
from labsupport.agent_api import MockAgent
from labsupport.events import Event, StatusEvent
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.server import STATS_FIELDS, ServerSettings, create_app
from labsupport.sse import decode_event
from tests.support.agents import FunctionAgent
from tests.support.net import free_port
from tests.support.processes import stop_process, wait_until_answering
from tests.support.runs import stats
from tests.support.secret import AUTH, TEST_TOKEN, asgi_client

QUESTION = "Who runs billing?"


def parse_body(body: str) -> list[Event]:
    """Events of a complete SSE body (comments and blank blocks skipped)."""
    events = []
    for block in body.split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields.setdefault(name, []).append(value)
        if "data" in fields:
            events.append(
                decode_event(fields["event"][0], "\n".join(fields["data"]), fields["id"][0])
            )
    return events


# -- streaming, in process -----------------------------------------------------------------


async def test_post_streams_one_valid_run_with_sse_headers(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.post("/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    events = parse_body(response.text)
    assert check_stream(events) == []
    assert [e.type for e in events[:2]] == ["status", "thought"]
    assert events[-1].type == "done"
    answer = "".join(e.text for e in events if e.type == "token")
    assert "Dana Okafor" in answer


async def test_get_streams_the_same_run_for_eventsource(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.get("/chat/stream", params={"message": QUESTION})
    assert response.status_code == 200
    events = parse_body(response.text)
    assert check_stream(events) == []
    assert events[-1].type == "done"


async def test_each_block_names_the_type_and_ids_run_and_seq(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.post("/chat/stream", json={"message": QUESTION})
    first = response.text.split("\n\n")[0].split("\n")
    run_id = json.loads(first[1].removeprefix("data: "))["run_id"]
    assert first == [
        "event: status",
        f'data: {{"type":"status","run_id":"{run_id}","seq":0,"message":"thinking"}}',
        f"id: {run_id}:0",
    ]


async def test_two_runs_get_different_run_ids(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        a = parse_body((await client.post("/chat/stream", json={"message": QUESTION})).text)
        b = parse_body((await client.post("/chat/stream", json={"message": QUESTION})).text)
    assert a[0].run_id != b[0].run_id


# -- validation -----------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
POST_CASES = [
    ("missing-message", b"{}", JSON, 422, "field 'message' is required"),
    ("empty-message", b'{"message": ""}', JSON, 422, "field 'message' must not be empty"),
    ("blank-message", b'{"message": "  \\n "}', JSON, 422, "must not be empty"),
    ("number-message", b'{"message": 42}', JSON, 422, "must be a string, got a number"),
    ("null-message", b'{"message": null}', JSON, 422, "field 'message' is required"),
    ("list-message", b'{"message": ["a"]}', JSON, 422, "must be a string, got an array"),
    ("array-body", b'["hi"]', JSON, 422, "must be a JSON object"),
    ("extra-field", b'{"message": "hi", "k": 9}', JSON, 422, "unexpected field 'k'"),
    ("invalid-json", b'{"message": ', JSON, 400, "not valid JSON: Expecting value"),
    ("not-utf8", b'{"message": "\xff"}', JSON, 400, "not valid JSON"),
    ("text-plain", b"hi", {"content-type": "text/plain"}, 415, "got 'text/plain'"),
    ("no-content-type", b'{"message": "hi"}', {}, 415, "got no Content-Type"),
    (
        "form-encoded",
        b"message=hi",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "must be application/json",
    ),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [c[1:] for c in POST_CASES],
    ids=[c[0] for c in POST_CASES],
)
async def test_bad_post_is_refused_with_a_reason(
    instant_app: Any, body: bytes, headers: dict[str, str], status: int, detail: str
) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.post("/chat/stream", content=body, headers=headers)
        stats = (await client.get("/stats")).json()
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert stats["runs_started"] == 0


async def test_too_long_message_is_refused_with_the_limit() -> None:
    app = create_app(ServerSettings(llm=MockLLM.instant(), max_message_chars=10))
    async with asgi_client(app) as client:
        response = await client.post("/chat/stream", json={"message": "x" * 11})
        get = await client.get("/chat/stream", params={"message": "x" * 11})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "field 'message' is 11 characters long; the limit is 10 characters"
    )
    assert get.status_code == 422
    assert "query parameter 'message' is 11 characters long" in get.json()["detail"]


async def test_huge_body_is_refused_before_parsing() -> None:
    app = create_app(ServerSettings(llm=MockLLM.instant(), max_message_chars=10))
    async with asgi_client(app) as client:
        response = await client.post("/chat/stream", json={"message": "x" * 100_000})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({}, "query parameter 'message' is required"),
        ({"message": ""}, "query parameter 'message' must not be empty"),
    ],
    ids=["missing", "empty"],
)
async def test_bad_get_is_refused_with_a_reason(
    instant_app: Any, params: dict[str, str], detail: str
) -> None:
    async with asgi_client(instant_app) as client:
        response = await client.get("/chat/stream", params=params)
    assert response.status_code == 422
    assert response.json()["detail"] == detail


# -- failures mid-stream -----------------------------------------------------------------------


async def test_model_failure_mid_stream_ends_with_an_error_event_and_server_keeps_serving() -> None:
    app = create_app(ServerSettings(llm=MockLLM.instant(fail_after_tokens=3)))
    async with asgi_client(app) as client:
        failed = parse_body((await client.post("/chat/stream", json={"message": QUESTION})).text)
        stats = (await client.get("/stats")).json()
        again = await client.get("/chat/stream", params={"message": QUESTION})
    assert failed[-1].type == "error"
    assert failed[-1].code == "model_error"  # type: ignore[union-attr]
    assert sum(e.type == "token" for e in failed) == 3
    assert check_stream(failed) == []
    assert stats["runs_failed"] == 1
    assert again.status_code == 200
    assert parse_body(again.text)[-1].type == "error"


async def exploding_agent(message: str, **kwargs: Any) -> AsyncIterator[Event]:
    yield StatusEvent(run_id=kwargs["run_id"], seq=0, message="thinking")
    raise RuntimeError("the tool crashed")


async def unfinished_agent(message: str, **kwargs: Any) -> AsyncIterator[Event]:
    yield StatusEvent(run_id=kwargs["run_id"], seq=0, message="thinking")


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        (exploding_agent, "RuntimeError: the tool crashed"),
        (unfinished_agent, "the agent stopped without a done or error event"),
    ],
    ids=["agent-raises", "agent-ends-early"],
)
async def test_broken_agent_ends_the_stream_with_an_internal_error_event(
    agent: Any, message: str
) -> None:
    app = create_app(agent=FunctionAgent(agent))
    async with asgi_client(app) as client:
        response = await client.post("/chat/stream", json={"message": QUESTION})
        stats = (await client.get("/stats")).json()
    events = parse_body(response.text)
    assert [e.type for e in events] == ["status", "error"]
    assert events[1].seq == 1
    assert events[1].code == "internal_error"  # type: ignore[union-attr]
    assert events[1].message == message  # type: ignore[union-attr]
    assert check_stream(events) == []
    assert stats["runs_failed"] == 1
    assert stats["active_streams"] == 0


async def test_keepalive_comments_fill_a_slow_tool_call() -> None:
    llm = MockLLM(ttft=0, tokens_per_second=None, tool_delay=0.35)
    app = create_app(ServerSettings(llm=llm, keepalive_seconds=0.1))
    async with asgi_client(app) as client:
        body = (await client.post("/chat/stream", json={"message": QUESTION})).text
    between = body.split("event: tool_call")[1].split("event: tool_result")[0]
    assert between.count(": keep-alive\n\n") >= 2


# -- stats, page, CORS, settings ----------------------------------------------------------------


async def test_stats_has_exactly_the_seven_counters(instant_app: Any) -> None:
    async with asgi_client(instant_app) as client:
        await client.post("/chat/stream", json={"message": QUESTION})
        stats = (await client.get("/stats")).json()
    assert tuple(stats) == STATS_FIELDS
    assert stats["runs_started"] == stats["runs_completed"] == 1
    assert stats["active_streams"] == stats["runs_cancelled"] == stats["runs_failed"] == 0
    assert stats["tokens_generated"] == 30
    assert stats["cost_usd"] == pytest.approx(107 * 0.5e-6 + 30 * 1.5e-6)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://127.0.0.1:8888", True), ("http://evil.example", False)],
    ids=["listed-origin", "other-origin"],
)
async def test_cors_allows_only_listed_origins(origin: str, allowed: bool) -> None:
    app = create_app(ServerSettings(llm=MockLLM.instant()))
    async with asgi_client(app) as client:
        response = await client.options(
            "/chat/stream",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
    assert (response.headers.get("access-control-allow-origin") == origin) is allowed
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "origin",
    ["*", "127.0.0.1:8888", "http://localhost:8888/lab"],
    ids=["star", "no-scheme", "path"],
)
def test_settings_refuse_a_vague_cors_origin(origin: str) -> None:
    with pytest.raises(ValidationError, match="origin"):
        ServerSettings(cors_origins=(origin,))


def test_default_pacing_is_humane() -> None:
    llm = ServerSettings().build_llm()
    assert llm.tokens_per_second is not None and llm.tokens_per_second <= 30
    assert llm.ttft > 0


async def test_extra_routers_are_served_beside_the_stream() -> None:
    router = APIRouter()

    @router.get("/v1/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app = create_app(ServerSettings(llm=MockLLM.instant()), routers=[router])
    async with asgi_client(app) as client:
        assert (await client.get("/v1/ping")).json() == {"pong": "yes"}
        assert (await client.get("/stats")).status_code == 200


def test_module_level_app_is_importable_for_uvicorn() -> None:
    from labsupport.server import app

    paths = {getattr(r, "path", None) for r in app.routes}
    assert {"/chat/stream", "/stats", "/"} <= paths


def test_default_app_answers_the_openai_sdk_and_counts_its_spend() -> None:
    instant = create_app(ServerSettings(ttft=0, tokens_per_second=None, tool_delay=0))
    with start_server(instant, port=free_port(), name="test_server-v1") as server:
        # The server's secret is the SDK's api_key.
        client = openai.OpenAI(
            base_url=f"{server.base_url}/v1", api_key=server.token, max_retries=0
        )
        assert "lab-mock-1" in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(
            model="lab-mock-1", messages=[{"role": "user", "content": QUESTION}]
        )
        assert "Dana Okafor" in (reply.choices[0].message.content or "")
        assert reply.usage is not None
        spent = stats(server)
    assert spent["tokens_generated"] == reply.usage.completion_tokens > 0
    assert spent["cost_usd"] > 0


@pytest.mark.slow
def test_uvicorn_on_the_module_app_answers_the_unmodified_openai_sdk() -> None:
    """As a new user tries it: ``uvicorn labsupport.server:app``, then the openai SDK at ``/v1``."""
    port = free_port()
    command = ["-m", "uvicorn", "labsupport.server:app", "--host", "127.0.0.1", "--port", str(port)]
    # The secret reaches the server in $LAB_TOKEN (conftest exports TEST_TOKEN), as the README says.
    process = subprocess.Popen([sys.executable, *command], stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        what = "uvicorn labsupport.server:app"
        wait_until_answering(process, f"{base}/stats", what=what, timeout=30, headers=AUTH)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=TEST_TOKEN, max_retries=0)
        assert "lab-mock-1" in [m.id for m in client.models.list()]
        chunks = client.chat.completions.create(
            model="lab-mock-1", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        spent = stats(base)
    finally:
        stop_process(process)
    assert "Dana Okafor" in text
    assert spent["tokens_generated"] > 0 and spent["cost_usd"] > 0


# -- over a real socket ---------------------------------------------------------------------------

closed_at: list[float] = []


class RecordingAgent(MockAgent):
    """The mock agent, noting when a run was closed."""

    async def stream(self, question: str, *, k: int, run_id: str) -> AsyncIterator[Event]:
        try:
            async for event in super().stream(question, k=k, run_id=run_id):
                yield event
        finally:
            closed_at.append(time.monotonic())


@pytest.fixture(scope="module")
def paced_server() -> Iterator[ServerHandle]:
    llm = MockLLM(ttft=0.0, tokens_per_second=40, tool_delay=0.0)
    app = create_app(agent=RecordingAgent(llm))
    with start_server(app, port=free_port(), name="test_server-paced") as server:
        yield server


@pytest.mark.slow
def test_events_arrive_one_by_one_over_a_real_socket(paced_server: ServerHandle) -> None:
    arrivals: list[tuple[float, str]] = []
    with httpx.stream(
        "POST", paced_server.url_for("/chat/stream"), json={"message": QUESTION}
    ) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                arrivals.append((time.monotonic(), line.removeprefix("event: ")))
    tokens = [t for t, kind in arrivals if kind == "token"]
    assert arrivals[-1][1] == "done"
    # 30 tokens at 40/s: streamed, the first arrives about 0.7 s before the last.
    assert tokens[-1] - tokens[0] > 0.4


@pytest.mark.slow
def test_disconnect_closes_the_agent_within_100_ms_and_stops_the_spend(
    paced_server: ServerHandle,
) -> None:
    before = stats(paced_server)
    closed_at.clear()
    seen = 0
    with httpx.stream(
        "GET",
        f"{paced_server.base_url}/chat/stream",
        params={"message": QUESTION},
        headers=paced_server.headers,
    ) as response:
        for line in response.iter_lines():
            seen += line == "event: token"
            if seen == 3:
                break
        left = time.monotonic()
    deadline = left + 2.0
    while not closed_at and time.monotonic() < deadline:
        time.sleep(0.005)
    assert closed_at, "the agent was never closed"
    assert closed_at[0] - left < 0.1
    after = stats(paced_server)
    time.sleep(0.3)
    later = stats(paced_server)
    assert after["runs_cancelled"] == before["runs_cancelled"] + 1
    assert after["active_streams"] == 0
    assert later["tokens_generated"] == after["tokens_generated"]
    assert after["tokens_generated"] - before["tokens_generated"] < 10


@pytest.mark.slow
def test_many_clients_at_once_are_all_served(paced_server: ServerHandle) -> None:
    results: list[str] = []

    def ask() -> None:
        with httpx.stream(
            "GET",
            f"{paced_server.base_url}/chat/stream",
            params={"message": QUESTION},
            headers=paced_server.headers,
        ) as response:
            results.append(list(response.iter_lines())[-3])

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 6
    assert all(r.startswith('data: {"type":"done"') for r in results)
