"""Runs that outlive a connection: resume with Last-Event-ID, drop versus cancel, clear 4xx.

Every test runs a real uvicorn on loopback. A "drop" is a reader closed without
asking for a cancel (``cancel_on_close=False``) or a connection cut by a relay
in the middle; "cancel" is ``POST /runs/{id}/cancel``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from labsupport.client import StreamError, astream_events, cancel_run, stream_events
from labsupport.events import Event
from labsupport.server import ServerSettings, create_app
from labsupport.sse import event_id
from labsupport.view import LiveView
from tests.support.dialect_bodies import agui_body, chat_body, user
from tests.support.process_server import serve_in_process
from tests.support.raw_http import post_json
from tests.support.relay import relay_to
from tests.support.runs import comparable, read_then_drop, stats, wait_for
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

QUESTION = "Who runs billing?"
EVENTS_IN_ANSWER = 40  # what the mock agent emits for QUESTION


def serve(**settings: Any) -> Any:
    defaults: dict[str, Any] = {"ttft": 0, "tool_delay": 0, "tokens_per_second": 200.0}
    return serve_in_thread(create_app(ServerSettings(**{**defaults, **settings}), token=TEST_TOKEN))


@pytest.fixture(scope="module")
def resumable() -> Iterator[str]:
    with serve(resumable=True, resume_grace_seconds=5.0) as url:
        yield url


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("dropped_after", [1, 8, 20, EVENTS_IN_ANSWER - 1])
def test_resume_replays_the_missed_events_once_in_order_then_continues(
    resumable: str, method: Any, dropped_after: int
) -> None:
    uninterrupted = list(stream_events(resumable, QUESTION, method=method))
    assert len(uninterrupted) == EVENTS_IN_ANSWER
    before = stats(resumable)

    first = read_then_drop(resumable, dropped_after, method)
    rest = list(
        stream_events(resumable, QUESTION, method=method, last_event_id=event_id(first[-1]))
    )

    whole = first + rest
    assert comparable(whole) == comparable(uninterrupted)
    assert [e.seq for e in whole] == list(range(EVENTS_IN_ANSWER))
    assert {e.run_id for e in whole} == {first[0].run_id}  # the same run, not a new one
    after = stats(resumable)
    assert after["runs_started"] == before["runs_started"] + 1
    assert after["runs_resumed"] == before["runs_resumed"] + 1
    assert after["runs_completed"] == before["runs_completed"] + 1
    if dropped_after < EVENTS_IN_ANSWER - 1:
        # (Just before the end, the server may have written the last event already.)
        assert after["streams_dropped"] == before["streams_dropped"] + 1


def test_a_run_that_ends_while_parked_is_still_replayed_to_the_end(resumable: str) -> None:
    before = stats(resumable)["runs_completed"]  # before the run starts: it may end at once
    first = read_then_drop(resumable, 3)
    run_id = first[0].run_id
    # The answer is short: the run finishes on its own while nobody reads it.
    wait_for(lambda: stats(resumable)["runs_completed"] == before + 1)
    rest = list(stream_events(resumable, QUESTION, last_event_id=f"{run_id}:2"))
    assert [e.seq for e in first + rest] == list(range(EVENTS_IN_ANSWER))
    assert rest[-1].type == "done"


def test_client_reconnects_through_a_cut_connection_and_sees_every_event_once(
    resumable: str,
) -> None:
    uninterrupted = list(stream_events(resumable, QUESTION))
    before = stats(resumable)
    with relay_to(resumable) as relay:
        received: list[Event] = []
        for event in stream_events(relay.url, QUESTION, reconnects=2):
            received.append(event)
            if len(received) == 10:
                assert relay.cut() > 0
        assert relay.connections == 2
    assert comparable(received) == comparable(uninterrupted)
    assert stats(resumable)["runs_resumed"] == before["runs_resumed"] + 1


def test_a_new_reader_takes_over_from_an_old_one_that_never_noticed_the_drop(
    resumable: str,
) -> None:
    old = stream_events(resumable, QUESTION, cancel_on_close=False)
    seen = [next(old) for _ in range(5)]
    new = list(stream_events(resumable, QUESTION, last_event_id=event_id(seen[-1])))
    assert [e.seq for e in seen + new] == list(range(EVENTS_IN_ANSWER))
    # The old response was ended by the server when the new reader attached.
    with pytest.raises(StreamError):
        for _ in old:
            pass


def test_explicit_cancel_stops_the_spend_at_once_and_ends_the_stream() -> None:
    with serve(resumable=True, tokens_per_second=20.0) as url:
        stream = stream_events(url, QUESTION)
        received = [next(stream) for _ in range(10)]  # a few tokens in
        result = cancel_run(url, received[0].run_id)
        assert result["run_id"] == received[0].run_id
        assert result["outcome"] == "cancelled"
        received += list(stream)
        tokens = stats(url)["tokens_generated"]
        time.sleep(0.3)  # six tokens' time at 20 tokens/s
        after = stats(url)
    last = received[-1]
    assert last.type == "error" and last.code == "cancelled"
    assert after["tokens_generated"] == tokens
    assert after["runs_cancelled"] == 1
    assert after["cancel_requests"] == 1
    assert after["active_streams"] == after["runs_parked"] == 0


def test_a_dropped_run_waits_out_the_grace_period_then_is_cancelled() -> None:
    with serve(resumable=True, tokens_per_second=20.0, resume_grace_seconds=0.4) as url:
        first = read_then_drop(url, 10)
        wait_for(lambda: stats(url)["runs_parked"] == 1, timeout=2.0)
        assert stats(url)["runs_cancelled"] == 0
        wait_for(lambda: stats(url)["runs_expired"] == 1, timeout=3.0)
        tokens = stats(url)["tokens_generated"]
        time.sleep(0.3)
        after = stats(url)
        assert after["tokens_generated"] == tokens  # the spend stopped with the run
        assert after["runs_parked"] == 0 and after["runs_cancelled"] == 1
        response = resume_request(url, event_id(first[-1]))
    assert response.status_code == 410
    assert "nobody reconnected within 0.4 s" in response.json()["detail"]


def test_without_resume_a_drop_cancels_at_once_and_a_resume_is_refused() -> None:
    with serve(tokens_per_second=20.0) as url:
        first = read_then_drop(url, 10)
        wait_for(lambda: stats(url)["runs_cancelled"] == 1, timeout=2.0)
        after = stats(url)
        assert after["streams_dropped"] == 1 and after["runs_parked"] == 0
        response = resume_request(url, event_id(first[-1]))
    assert response.status_code == 409
    assert "resumable=True" in response.json()["detail"]


def test_ag_ui_streams_are_never_parked_even_on_a_resumable_server(resumable: str) -> None:
    # AG-UI has no way to resume, so its runs stop at once when the client goes
    # (the AI SDK's reconnection is tested below).
    before = stats(resumable)
    with (
        httpx.Client(timeout=10, headers=AUTH) as http,
        http.stream("POST", f"{resumable}/ag-ui", json=agui_body(QUESTION)) as r,
    ):
        assert r.status_code == 200
        next(r.iter_bytes())
    wait_for(lambda: stats(resumable)["runs_cancelled"] >= before["runs_cancelled"] + 1)
    assert stats(resumable)["runs_parked"] == before["runs_parked"]


def user_message(text: str) -> dict[str, Any]:
    return {"id": "m1", "role": "user", "parts": [{"type": "text", "text": text}]}


def resume_request(url: str, last_event_id: str, message: str = QUESTION) -> httpx.Response:
    return httpx.post(
        f"{url}/chat/stream",
        json={"message": message},
        headers={**AUTH, "Last-Event-ID": last_event_id, "Accept": "text/event-stream"},
    )


@pytest.mark.parametrize(
    ("last_event_id", "status", "detail"),
    [
        ("not-an-id", 400, "Last-Event-ID must be a run id and a sequence number"),
        ("run_0123456789ab:x", 400, "Last-Event-ID must be a run id and a sequence number"),
        ("run_0123456789ab:3", 404, "run run_0123456789ab is unknown here"),
    ],
)
def test_a_bad_or_unknown_last_event_id_gets_a_clear_4xx(
    resumable: str, last_event_id: str, status: int, detail: str
) -> None:
    response = resume_request(resumable, last_event_id)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_resuming_past_what_was_sent_or_for_another_message_is_refused(resumable: str) -> None:
    first = read_then_drop(resumable, 3)
    run_id = first[0].run_id
    too_far = resume_request(resumable, f"{run_id}:{EVENTS_IN_ANSWER + 5}")
    assert too_far.status_code == 409
    assert f"Last-Event-ID names seq {EVENTS_IN_ANSWER + 5}" in too_far.json()["detail"]
    other = resume_request(resumable, f"{run_id}:2", message="Who runs security?")
    assert other.status_code == 409
    assert "answers a different message" in other.json()["detail"]


def test_events_that_fell_out_of_the_replay_buffer_are_gone() -> None:
    with serve(resumable=True, replay_events=3, tokens_per_second=None) as url:
        events = read_then_drop(url, EVENTS_IN_ANSWER)  # the whole run, then "drop"
        response = resume_request(url, event_id(events[1]))
        assert response.status_code == 410
        assert "holds the last 3 events" in response.json()["detail"]
        tail = list(stream_events(url, QUESTION, last_event_id=event_id(events[-3])))
    assert tail == events[-2:]


def test_cancel_of_an_unknown_or_finished_run_is_refused(resumable: str) -> None:
    with pytest.raises(StreamError) as unknown:
        cancel_run(resumable, "run_0123456789ab")
    assert unknown.value.status_code == 404
    run_id = list(stream_events(resumable, QUESTION))[-1].run_id
    with pytest.raises(StreamError) as finished:
        cancel_run(resumable, run_id)
    assert finished.value.status_code == 409
    assert "already ended: completed" in finished.value.detail


def test_closing_the_client_early_cancels_the_run_even_when_resumable(resumable: str) -> None:
    before = stats(resumable)
    stream = stream_events(resumable, QUESTION)
    next(stream)
    stream.close()
    after = stats(resumable)
    assert after["cancel_requests"] == before["cancel_requests"] + 1
    assert after["runs_cancelled"] == before["runs_cancelled"] + 1


def test_resume_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="resume_grace_seconds"):
        ServerSettings(resume_grace_seconds=0)
    with pytest.raises(ValueError, match="replay_events"):
        ServerSettings(replay_events=0)


async def test_widget_stop_over_the_server_cancels_the_run_on_a_resumable_server() -> None:
    with serve(resumable=True, tokens_per_second=20.0) as url:
        view = LiveView(title=QUESTION).start(astream_events(url, QUESTION))
        deadline = time.monotonic() + 5
        while len(view.state.answer) < 10:
            assert time.monotonic() < deadline, "no tokens arrived"
            await asyncio.sleep(0.02)
        view.stop()
        await view.wait()
        await asyncio.sleep(0.1)  # the cancel request is sent as the stream closes
        after = stats(url)
        assert after["cancel_requests"] == 1
        assert after["runs_cancelled"] == 1
        assert after["runs_parked"] == 0
        tokens = after["tokens_generated"]
        await asyncio.sleep(0.3)
        assert stats(url)["tokens_generated"] == tokens


def test_an_ended_run_is_forgotten_after_replay_seconds() -> None:
    with serve(resumable=True, replay_seconds=0.3, tokens_per_second=None) as url:
        events = list(stream_events(url, QUESTION))
        kept = resume_request(url, event_id(events[-2]))
        assert kept.status_code == 200  # still kept: the done event is replayed
        time.sleep(0.5)
        list(stream_events(url, QUESTION))  # any new run tidies up the old ones
        forgotten = resume_request(url, event_id(events[-2]))
    assert forgotten.status_code == 404
    assert "ended more than 0.3 s ago" in forgotten.json()["detail"]


# --- the cap on active runs ----------------------------------------------------------


@pytest.fixture(scope="module")
def capped() -> Iterator[str]:
    """A server that holds one run at most; its runs take seconds."""
    with serve(max_active_runs=1, tokens_per_second=5.0) as url:
        yield url


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/chat/stream", None),
        ("POST", "/chat/stream", {"message": QUESTION}),
        ("POST", "/ag-ui", agui_body(QUESTION)),
        ("POST", "/api/chat", chat_body(user(QUESTION))),
    ],
    ids=["lab-get", "lab-post", "ag-ui", "ai-sdk"],
)
def test_a_run_over_the_cap_gets_429_with_retry_after_and_starts_nothing(
    capped: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with httpx.stream(
        "POST", f"{capped}/chat/stream", json={"message": QUESTION}, headers=AUTH
    ) as holder:
        chunks = holder.iter_raw()  # kept: a dropped iterator would close the stream
        next(chunks)  # the one allowed run is streaming
        before = stats(capped)
        response = httpx.request(
            method, f"{capped}{path}", params={"message": QUESTION}, json=body, headers=AUTH
        )
        after = stats(capped)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == (
        "this server already has 1 active runs, its limit (running or parked for a "
        "reconnection); retry when one ends, or raise the limit with "
        "ServerSettings(max_active_runs=...)"
    )
    assert after["runs_refused"] - before["runs_refused"] == 1
    assert (after["runs_started"], after["active_runs"]) == (before["runs_started"], 1)
    assert after["tokens_generated"] - before["tokens_generated"] < 5  # only the holder's
    wait_for(lambda: stats(capped)["active_runs"] == 0)


def test_a_parked_run_holds_its_slot_until_it_expires() -> None:
    with serve(
        max_active_runs=1, resumable=True, resume_grace_seconds=0.5, tokens_per_second=5.0
    ) as url:
        with httpx.stream(
            "GET", f"{url}/chat/stream", params={"message": QUESTION}, headers=AUTH
        ) as first:
            chunks = first.iter_raw()
            next(chunks)
        wait_for(lambda: stats(url)["runs_parked"] == 1)
        assert (
            httpx.get(f"{url}/chat/stream", params={"message": QUESTION}, headers=AUTH).status_code
            == 429
        )
        wait_for(lambda: stats(url)["active_runs"] == 0)
        assert stats(url)["runs_expired"] == 1
        with httpx.stream(
            "GET", f"{url}/chat/stream", params={"message": QUESTION}, headers=AUTH
        ) as second:
            assert second.status_code == 200


BURST = 1000
CAP = 50
MiB = 1024 * 1024


async def _burst(url: str, count: int) -> Counter[int]:
    """``count`` run requests, 100 in flight at a time; the status of each answer."""
    statuses: Counter[int] = Counter()
    pending = iter(range(count))

    async def connection() -> None:
        for _ in pending:
            answer = await post_json(f"{url}/chat/stream", {"message": QUESTION}, AUTH)
            statuses[answer.status] += 1
            if answer.status == 200:
                assert answer.body.endswith(b"\n\n") and b"event: done\n" in answer.body
            else:
                assert answer.headers["retry-after"] == "1"

    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(100))), timeout=120)
    return statuses


class StatsWatcher(threading.Thread):
    """Polls ``/stats`` from a thread of its own, so the burst's client does not delay it."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.latencies: list[float] = []
        self.peak_active_runs = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10.0, headers=AUTH) as client:
            while not self.stop.wait(0.05):
                start = time.perf_counter()
                counters = client.get(f"{self.url}/stats", headers=AUTH).json()
                self.latencies.append(time.perf_counter() - start)
                self.peak_active_runs = max(self.peak_active_runs, counters["active_runs"])


@pytest.mark.slow
def test_a_burst_of_1000_runs_is_capped_keeps_stats_prompt_and_leaks_nothing() -> None:
    # Each run holds its slot for 0.2 s, then streams its answer at once.
    settings = {"ttft": 0.2, "tool_delay": 0, "tokens_per_second": None, "max_active_runs": CAP}
    with serve_in_process(settings) as (url, pid):
        server = psutil.Process(pid)
        asyncio.run(_burst(url, 200))  # warm up: imports, caches, buffers
        wait_for(lambda: stats(url)["active_runs"] == 0)
        rss_before = server.memory_info().rss
        refused_before = stats(url)["runs_refused"]
        watcher = StatsWatcher(url)
        watcher.start()
        started = time.perf_counter()
        statuses = asyncio.run(_burst(url, BURST))
        seconds = time.perf_counter() - started
        watcher.stop.set()
        watcher.join(timeout=15)
        wait_for(lambda: stats(url)["active_runs"] == 0 and stats(url)["active_streams"] == 0)
        rss_after = server.memory_info().rss
        final = stats(url)
    polls, peak = watcher.latencies, watcher.peak_active_runs
    print(
        f"burst of {BURST} in {seconds:.1f} s: {dict(statuses)}; peak active runs {peak}; "
        f"/stats polled {len(polls)} times, slowest {max(polls) * 1000:.0f} ms; "
        f"RSS {rss_before / MiB:.1f} -> {rss_after / MiB:.1f} MiB"
    )
    assert set(statuses) == {200, 429} and sum(statuses.values()) == BURST
    assert statuses[200] >= CAP  # the cap was filled, and the rest refused, not queued
    assert 0 < peak <= CAP
    assert len(polls) >= 3 and max(polls) < 2.0
    assert final["runs_refused"] - refused_before == statuses[429]
    assert final["active_runs"] == final["active_streams"] == final["runs_parked"] == 0
    assert rss_after - rss_before < 25 * MiB


# -- the AI SDK's reconnection: GET /api/chat/{id}/stream ----------------------------------


def drop_after_first_token(url: str, chat_id: str) -> bytes:
    """POST /api/chat, read until the first text chunk, then hang up."""
    body = chat_body(user(QUESTION), id=chat_id)
    seen = b""
    with httpx.stream("POST", f"{url}/api/chat", json=body, headers=AUTH) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            seen += chunk
            if b'"text-delta"' in seen:
                break
    return seen


def test_a_dropped_ai_sdk_chat_is_replayed_whole_on_a_resumable_server() -> None:
    with serve(resumable=True, tokens_per_second=20.0) as url:
        assert httpx.get(f"{url}/api/chat/never-seen/stream", headers=AUTH).status_code == 204
        before = stats(url)
        seen = drop_after_first_token(url, "chat-drop")
        wait_for(lambda: stats(url)["runs_parked"] == 1)
        replay = httpx.get(f"{url}/api/chat/chat-drop/stream", headers=AUTH, timeout=30)
        after = stats(url)
    assert replay.status_code == 200
    assert replay.headers["x-vercel-ai-ui-message-stream"] == "v1"
    # From the first chunk (the SDK rebuilds the message from it) to the end, once.
    assert replay.text.startswith(seen.decode().split("\n\n")[0])
    assert replay.text.endswith('data: {"type":"finish","finishReason":"stop"}\n\ndata: [DONE]\n\n')
    assert replay.text.count('"type":"start"') == 1
    assert after["runs_started"] == before["runs_started"] + 1
    assert after["runs_resumed"] == before["runs_resumed"] + 1
    assert after["runs_completed"] == before["runs_completed"] + 1


def test_a_dropped_ai_sdk_chat_is_gone_on_a_server_that_does_not_resume() -> None:
    with serve(tokens_per_second=20.0) as url:
        drop_after_first_token(url, "chat-drop")
        wait_for(lambda: stats(url)["runs_cancelled"] == 1)
        assert httpx.get(f"{url}/api/chat/chat-drop/stream", headers=AUTH).status_code == 204


def test_last_event_id_cannot_resume_an_ai_sdk_run_as_a_lab_stream() -> None:
    with serve(resumable=True, tokens_per_second=20.0) as url:
        seen = drop_after_first_token(url, "chat-x")
        run_id = seen.split(b'"runId":"')[1].split(b'"')[0].decode()
        response = httpx.post(
            f"{url}/chat/stream",
            json={"message": QUESTION},
            headers={**AUTH, "Last-Event-ID": f"{run_id}:1"},
        )
    assert response.status_code == 409
    assert "not a lab stream" in response.json()["detail"]
