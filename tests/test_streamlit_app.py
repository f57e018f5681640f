"""The Streamlit front end, run by AppTest against a real server.

The app tests drive ``labsupport/streamlit_app.py`` with Streamlit's own
``AppTest`` (the script really runs, widgets and all) while a real uvicorn serves
the lab app on a loopback port; what the page must show is worked out from the
same question asked of the agent directly, not written down by hand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from labsupport import format_cost
from labsupport.events import ErrorEvent, TokenEvent
from labsupport.lab_url import with_token
from labsupport.runstate import RunState
from labsupport.server import ServerSettings, create_app
from labsupport.streamlit_text import SERVER_COMMAND, status_label, step_markdown
from tests.support.commonmark import unescape
from tests.support.net import free_port
from tests.support.runs import INSTANT, reference_run
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

APP = Path(__file__).resolve().parents[1] / "labsupport" / "streamlit_app.py"
QUESTION = "Who runs billing?"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serve_in_thread(create_app(ServerSettings(**INSTANT), token=TEST_TOKEN)) as url:
        yield url


def start_app(url: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    assert not app.exception
    app.sidebar.text_input(key="server_url").set_value(url)
    return app


def ask(app: AppTest, question: str) -> AppTest:
    app.chat_input[0].set_value(question).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def assistant_parts(app: AppTest, turn: int) -> list[Any]:
    """The elements of the ``turn``-th answer, in page order (the status box as one)."""
    message = app.chat_message[2 * turn + 1]
    assert message.name == "assistant"
    return list(message.children.values())


def test_the_server_url_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_SERVER_URL", "http://127.0.0.1:9001")
    app = AppTest.from_file(str(APP)).run()
    assert app.sidebar.text_input(key="server_url").value == "http://127.0.0.1:9001"
    assert any(SERVER_COMMAND in c.value for c in app.sidebar.caption)


def test_a_question_streams_steps_answer_sources_and_cost(server_url: str) -> None:
    app = ask(start_app(server_url), QUESTION)
    _, expected = reference_run()
    assert expected.cost is not None

    assert app.chat_message[0].name == "user"
    assert unescape(app.chat_message[0].markdown[0].value) == QUESTION
    status, answer, sources, cost = assistant_parts(app, 0)

    assert status.type == "status" and status.state == "complete"
    assert status.label == f"Done: {len(expected.steps)} steps"
    assert status.proto.expanded is False, "the steps fold away once the answer is done"
    assert [m.value for m in status.markdown] == [step_markdown(s) for s in expected.steps]
    tool_call = next(s for s in expected.steps if s.kind == "tool_call")
    assert any(tool_call.text in m.value for m in status.markdown)

    assert answer.type == "markdown" and answer.value == expected.answer
    assert sources.type == "markdown"
    for doc_id, title in expected.citations:
        assert f"`{doc_id}` {title}" in unescape(sources.value)
    assert cost.type == "caption"
    assert format_cost(expected.cost.usd) in cost.value
    assert f"{expected.cost.total_tokens} tokens" in cost.value
    assert not app.error


def test_earlier_questions_stay_on_the_page(server_url: str) -> None:
    app = ask(ask(start_app(server_url), QUESTION), "What is the refund window?")
    _, first = reference_run()
    _, second = reference_run("What is the refund window?")
    assert [m.name for m in app.chat_message] == ["user", "assistant"] * 2
    assert [s.state for s in app.status] == ["complete", "complete"]
    assert assistant_parts(app, 0)[1].value == first.answer
    assert assistant_parts(app, 1)[1].value == second.answer
    assert [t.question for t in app.session_state["turns"]] == [
        QUESTION,
        "What is the refund window?",
    ]

    app.sidebar.button[0].click().run()
    assert not app.chat_message and not app.session_state["turns"]


def ask_until_the_first_token(url: str, question: str) -> None:
    """An AppTest script: stream a run into a status box, stop at the first answer token."""
    import streamlit as st

    from labsupport.streamlit_app import Turn, answer_tokens

    turn = Turn(question)
    status = st.status("Asking the lab server…", expanded=True)
    tokens = answer_tokens(url, turn, status)
    st.session_state["first_token"] = next(tokens)
    tokens.close()
    st.session_state["turn"] = turn


def test_while_running_the_box_stays_open_and_its_label_follows_the_steps() -> None:
    # Paced, so the run is still going when the script stops reading.
    slow = ServerSettings(**{**INSTANT, "tokens_per_second": 2.0})
    with serve_in_thread(create_app(slow, token=TEST_TOKEN)) as url:
        app = AppTest.from_function(
            ask_until_the_first_token, args=(url, QUESTION), default_timeout=30
        ).run()
        # Closing the token stream closed the connection: the server stopped the run.
        deadline = time.monotonic() + 10
        while (stats := httpx.get(url + "/stats", headers=AUTH).json())["runs_cancelled"] == 0:
            assert time.monotonic() < deadline, "the server never saw the run stop"
            time.sleep(0.05)
        assert stats["runs_completed"] == 0 and stats["active_streams"] == 0
    assert not app.exception, [e.value for e in app.exception]
    events, _ = reference_run()
    so_far = RunState()
    for event in events[: next(i for i, e in enumerate(events) if e.type == "token")]:
        so_far.apply(event)

    status = app.status[0]
    assert status.state == "running" and status.proto.expanded is True
    assert status.label == status_label(so_far) == "Writing the answer…"
    assert [m.value for m in status.markdown] == [step_markdown(s) for s in so_far.steps]
    first = next(e for e in events if isinstance(e, TokenEvent))
    assert app.session_state["first_token"] == first.text


def test_an_error_event_puts_the_status_in_error_and_says_why() -> None:
    with serve_in_thread(
        create_app(ServerSettings(**INSTANT, fail_after_tokens=3), token=TEST_TOKEN)
    ) as url:
        app = ask(start_app(url), QUESTION)
    events, expected = reference_run(fail_after_tokens=3)
    error = events[-1]
    assert isinstance(error, ErrorEvent)

    parts = assistant_parts(app, 0)
    assert [p.type for p in parts] == ["status", "markdown", "markdown", "error"], "no cost"
    status, answer, _, shown = parts
    assert status.state == "error" and unescape(status.label) == f"Failed: {error.code}"
    assert [m.value for m in status.markdown] == [step_markdown(s) for s in expected.steps]
    assert answer.value == expected.answer and expected.token_count == 3
    assert shown.type == "error" and error.message in unescape(shown.value)
    assert [e.value for e in app.error] == [shown.value]


def test_an_unreachable_server_gets_an_error_that_says_how_to_start_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = ask(start_app(url), QUESTION)
    status, shown = assistant_parts(app, 0)
    assert status.state == "error" and status.label == "No answer from the lab server"
    assert shown.type == "error"
    assert f"`{url}`" in shown.value and f"`{SERVER_COMMAND}`" in shown.value


def test_a_refused_question_shows_the_servers_reason(server_url: str) -> None:
    app = ask(start_app(server_url), "x" * 2001)
    status, shown = assistant_parts(app, 0)
    assert status.state == "error"
    assert "refused the question (422)" in shown.value
    assert "2001 characters long; the limit is 2000" in unescape(shown.value)


def test_a_url_that_is_not_the_lab_server_is_named(server_url: str) -> None:
    app = ask(start_app(server_url + "/elsewhere"), QUESTION)
    _, shown = assistant_parts(app, 0)
    assert "has no `/chat/stream` endpoint (404)" in shown.value


def test_a_malformed_url_is_refused_before_any_request() -> None:
    app = ask(start_app("localhost:8000"), QUESTION)
    assert not app.chat_message
    assert "must start with http:// or https://" in app.error[0].value


def test_without_the_secret_the_app_says_where_it_comes_from(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAB_TOKEN")
    app = ask(start_app(server_url), "Who runs billing?")
    assert any("LAB_TOKEN" in e.value for e in app.error), [e.value for e in app.error]


def test_a_url_with_the_secret_works_without_the_environment(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAB_TOKEN")
    app = ask(start_app(with_token(server_url, TEST_TOKEN)), "Who runs billing?")
    assert not app.error, [e.value for e in app.error]
    assert "Dana Okafor" in "".join(str(m.value) for m in app.markdown)
