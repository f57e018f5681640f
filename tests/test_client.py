"""The SSE clients: typed events back from the wire, losslessly, sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport import MockLLM, chat_stream
from labsupport.client import StreamError, astream_events, cancel_run, stream_events
from labsupport.events import DoneEvent, Event, TokenEvent
from labsupport.server import create_app
from labsupport.sse import KEEPALIVE, encode_event
from tests.support.agents import FunctionAgent
from tests.support.secret import TEST_TOKEN

QUESTION = "Who runs billing?"


def expected_for(events: list[Event]) -> list[Event]:
    """What the agent emits for QUESTION under the run id the server chose."""
    return list(chat_stream(QUESTION, llm=MockLLM.instant(), run_id=events[0].run_id))


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_sync_round_trip_is_lossless_over_a_real_socket(lab_url: str, method: Any) -> None:
    events = list(stream_events(lab_url, QUESTION, method=method))
    assert events == expected_for(events)


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_async_round_trip_is_lossless_over_a_real_socket(lab_url: str, method: Any) -> None:
    events = [e async for e in astream_events(lab_url, QUESTION, method=method)]
    assert events == expected_for(events)


def test_refused_request_raises_with_status_and_detail(lab_url: str) -> None:
    with pytest.raises(StreamError, match="refused the request \\(422\\)") as info:
        list(stream_events(lab_url, "   "))
    assert info.value.status_code == 422
    assert info.value.detail == "field 'message' must not be empty"


async def test_async_refused_request_raises_with_status_and_detail(lab_url: str) -> None:
    with pytest.raises(StreamError) as info:
        [e async for e in astream_events(lab_url, "", method="GET")]
    assert info.value.status_code == 422
    assert info.value.detail == "query parameter 'message' must not be empty"


def test_sync_client_reuses_a_given_client_and_leaves_it_open(lab_url: str) -> None:
    with httpx.Client() as client:
        first = list(stream_events(lab_url, QUESTION, client=client))
        second = list(stream_events(lab_url, QUESTION, client=client))
        assert not client.is_closed
    assert first[-1].type == second[-1].type == "done"


@pytest.mark.parametrize("method", ["PUT", "post"])
def test_unknown_method_is_refused_before_any_request(method: Any) -> None:
    with pytest.raises(ValueError, match="method must be 'GET' or 'POST'"):
        next(stream_events("http://127.0.0.1:9", QUESTION, method=method))


def wire_app(chunks: list[bytes]) -> Any:
    """A bare ASGI app that answers every request with these SSE chunks."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def asgi(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


async def test_stream_cut_before_the_terminal_event_raises() -> None:
    app = wire_app([encode_event(TokenEvent(run_id="run_t", seq=0, text="half"))])
    async with asgi(app) as client:
        received: list[Event] = []
        with pytest.raises(StreamError, match="ended before a done or error event"):
            async for event in astream_events("http://127.0.0.1", QUESTION, client=client):
                received.append(event)
    assert received == [TokenEvent(run_id="run_t", seq=0, text="half")]


async def test_keepalives_between_events_are_skipped() -> None:
    sent = [TokenEvent(run_id="run_k", seq=0, text="a"), DoneEvent(run_id="run_k", seq=1)]
    app = wire_app([KEEPALIVE, encode_event(sent[0]), KEEPALIVE, KEEPALIVE, encode_event(sent[1])])
    async with asgi(app) as client:
        received = [e async for e in astream_events("http://127.0.0.1", QUESTION, client=client)]
    assert received == sent


def agent_saying(texts: list[str]) -> Any:
    async def agent(message: str, **kwargs: Any) -> AsyncIterator[Event]:
        run_id = kwargs["run_id"]
        for seq, text in enumerate(texts):
            yield TokenEvent(run_id=run_id, seq=seq, text=text)
        yield DoneEvent(run_id=run_id, seq=len(texts))

    return agent


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.text() | st.sampled_from(["\n", "\r", "\r\n", "\n\ndata: x", "\n\nevent: done\n\n"]),
        max_size=5,
    )
)
async def test_any_token_text_survives_server_and_client_unchanged(texts: list[str]) -> None:
    app = create_app(agent=FunctionAgent(agent_saying(texts)), token=TEST_TOKEN)
    async with asgi(app) as client:
        received = [e async for e in astream_events("http://127.0.0.1", QUESTION, client=client)]
    assert [e.text for e in received if isinstance(e, TokenEvent)] == texts
    assert [e.type for e in received] == ["token"] * len(texts) + ["done"]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"reconnects": -1}, ValueError, "reconnects must be a whole number >= 0, got -1"),
        ({"reconnects": True}, ValueError, "reconnects must be a whole number >= 0, got True"),
        ({"last_event_id": 7}, TypeError, "last_event_id must be a str, got int"),
    ],
)
def test_resume_options_are_checked_before_any_request(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        next(stream_events("http://127.0.0.1:9", QUESTION, **options))


def test_cancel_run_refuses_an_empty_run_id() -> None:
    with pytest.raises(ValueError, match="run_id must be a non-empty str"):
        cancel_run("http://127.0.0.1:9", "")
