"""The Streamlit front end: its pure pieces, and the app itself run by AppTest against a real server.

The app tests drive ``labsupport/streamlit_app.py`` with Streamlit's own
``AppTest`` (the script really runs, widgets and all) while a real uvicorn serves
the lab app on a loopback port; what the page must show is worked out from the
same question asked of the agent directly, not written down by hand.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from labsupport import MockLLM, chat_stream, format_cost
from labsupport.client import StreamError
from labsupport.events import CostEvent, ErrorEvent, Event, StatusEvent, TokenEvent
from labsupport.lab_url import with_token
from labsupport.runstate import RunState, Step
from labsupport.server import ServerSettings, create_app
from labsupport.streamlit_app import (
    DEFAULT_SERVER_URL,
    SERVER_COMMAND,
    cost_caption,
    default_server_url,
    escape_markdown,
    failure_message,
    inline_code,
    run_error_message,
    sources_markdown,
    status_label,
    status_state,
    step_markdown,
    url_problem,
)
from tests.support.net import free_port
from tests.support.secret import AUTH, TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

APP = Path(__file__).resolve().parents[1] / "labsupport" / "streamlit_app.py"
QUESTION = "Who runs billing?"
FAST = {"ttft": 0, "tokens_per_second": None, "tool_delay": 0}


def unescape(markdown: str) -> str:
    """What CommonMark shows for backslash-escaped text: the escaped characters themselves."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def code_span_text(markdown: str) -> str:
    """The text inside the single code span ``markdown`` is (CommonMark's rules)."""
    match = re.fullmatch(r"(`+)(.*)\1", markdown, flags=re.DOTALL)
    assert match is not None, f"not a code span: {markdown!r}"
    fence, body = match.groups()
    assert all(len(run) != len(fence) for run in re.findall(r"`+", body)), "the span closes early"
    if len(body) > 1 and body.startswith(" ") and body.endswith(" ") and body.strip():
        body = body[1:-1]
    return body


def reference_run(question: str = QUESTION, **llm: Any) -> tuple[list[Event], RunState]:
    """The events the agent emits for ``question``, and the state they fold into."""
    events = list(chat_stream(question, llm=MockLLM(**{**FAST, **llm})))
    state = RunState()
    for event in events:
        state.apply(event)
    return events, state


# ---- Pure functions ------------------------------------------------------------------------


def test_server_url_comes_from_the_environment_or_the_server_default() -> None:
    assert default_server_url({"LAB_SERVER_URL": " http://127.0.0.1:9001 "}) == (
        "http://127.0.0.1:9001"
    )
    assert default_server_url({"LAB_SERVER_URL": "  "}) == DEFAULT_SERVER_URL
    assert default_server_url({}) == DEFAULT_SERVER_URL == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "Enter the lab server's URL in the sidebar"),
        ("localhost:8000", "must start with http:// or https://"),
        ("ftp://127.0.0.1:8000", "must start with http:// or https://"),
        ("http://", "has no host name"),
    ],
)
def test_a_bad_server_url_is_named_with_an_example(url: str, says: str) -> None:
    problem = url_problem(url)
    assert problem is not None and says in problem and DEFAULT_SERVER_URL in problem


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://hub.example/proxy/8000/ "])
def test_a_good_server_url_has_no_problem(url: str) -> None:
    assert url_problem(url) is None


@given(st.text())
def test_escaped_text_shows_exactly_its_characters_on_one_line(text: str) -> None:
    escaped = escape_markdown(text)
    assert unescape(escaped) == " ".join(text.split())
    assert "\n" not in escaped
    # No Markdown syntax survives: every ASCII punctuation character comes escaped.
    assert re.fullmatch(r"(?:\\[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~])*", escaped)


@given(st.text(min_size=1).filter(lambda t: t.split()))
def test_inline_code_holds_any_text_in_one_span(text: str) -> None:
    assert code_span_text(inline_code(text)) == " ".join(text.split())


def test_inline_code_picks_a_fence_longer_than_any_backtick_run() -> None:
    assert inline_code("f(x)") == "`f(x)`"
    assert inline_code("a `b` c") == "``a `b` c``"
    assert inline_code("`x`") == "`` `x` ``"


def test_each_step_kind_has_its_own_line() -> None:
    assert step_markdown(Step("status", "thinking")) == "• thinking"
    assert step_markdown(Step("thought", "plan: *go*")) == "✎ *plan\\: \\*go\\**"
    assert step_markdown(Step("tool_call", 'search_kb(query="a", k=3)')) == (
        '→ `search_kb(query="a", k=3)`'
    )
    assert step_markdown(Step("tool_result", "search_kb found D1")) == "← search\\_kb found D1"


def test_the_status_label_follows_each_step_then_names_the_outcome() -> None:
    events, _ = reference_run()
    state = RunState()
    assert status_label(state) == "Asking the lab server…"
    for event in events:
        before = len(state.steps)
        state.apply(event)
        label = status_label(state)
        if state.ended:
            assert label == f"Done: {len(state.steps)} steps"
            assert status_state(state) == "complete"
            continue
        assert status_state(state) == "running"
        if len(state.steps) > before:
            step = state.steps[-1]
            if step.kind == "status":
                assert unescape(label) == step.text[0].upper() + step.text[1:] + "…"
            else:
                assert label.startswith(step_markdown(step)[0] + " ")
                assert unescape(label[2:]) == step.text


def test_a_long_step_is_shortened_in_the_label() -> None:
    state = RunState()
    state.apply(StatusEvent(run_id="r", seq=0, message="word " * 40))
    label = unescape(status_label(state))
    assert len(label) <= 80 and label.endswith("word…") and label.startswith("Word word")


def test_errors_stops_and_failures_give_an_error_state() -> None:
    failed = RunState()
    failed.apply(ErrorEvent(run_id="r", seq=0, code="model_error", message="boom"))
    assert (status_label(failed), status_state(failed)) == ("Failed: model\\_error", "error")

    stopped = RunState()
    stopped.apply(TokenEvent(run_id="r", seq=0, text="Hi"))
    stopped.cancel()
    assert (status_label(stopped), status_state(stopped)) == ("Stopped before the end", "error")

    assert status_label(RunState(), "refused") == "No answer from the lab server"
    assert status_label(stopped, "broke") == "The stream broke off"
    assert status_state(RunState(), "refused") == "error"


def test_sources_list_the_cited_ids_and_titles() -> None:
    _, state = reference_run()
    line = sources_markdown(state.citations)
    assert line.startswith("**Sources:** ")
    parts = line.removeprefix("**Sources:** ").split(" · ")
    assert len(parts) == len(state.citations) > 0
    for part, (doc_id, title) in zip(parts, state.citations, strict=True):
        code, _, rest = part.partition(" ")
        assert code_span_text(code) == doc_id and unescape(rest) == title
    assert sources_markdown([]) == "**Sources:** none"


def test_cost_caption_shows_dollars_and_tokens() -> None:
    cost = CostEvent(run_id="r", seq=0, prompt_tokens=107, completion_tokens=30, usd=0.0000985)
    assert cost_caption(cost) == "Cost: $0.0000985 for 137 tokens (107 prompt + 30 answer)"


def test_run_error_message_names_code_and_message() -> None:
    error = ErrorEvent(run_id="r", seq=0, code="model_error", message="it failed (after 3)")
    assert (
        unescape(run_error_message(error)) == "The run failed (`model_error`): it failed (after 3)"
    )


def wrapped(cause: httpx.HTTPError) -> StreamError:
    """A transport failure as the client may raise it: a ``StreamError`` caused by it."""
    try:
        raise StreamError(f"the connection broke off: {cause}") from cause
    except StreamError as exc:
        return exc


URL = "http://127.0.0.1:8123"
REQUEST = httpx.Request("POST", URL + "/chat/stream")


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (httpx.ConnectError("refused", request=REQUEST), f"Cannot reach the lab server at `{URL}`"),
        (httpx.ConnectTimeout("slow", request=REQUEST), f"`{SERVER_COMMAND}`"),
        (StreamError("x", status_code=404, detail="Not Found"), "has no `/chat/stream` endpoint"),
        (
            StreamError("x", status_code=422, detail="field 'message' must not be empty"),
            "refused the question (422): field 'message' must not be empty",
        ),
        (StreamError("x", status_code=500, detail="boom"), "failed (500): boom"),
        (StreamError("x", status_code=401, detail="secret"), "set to the secret the server"),
        (StreamError("x", status_code=403, detail="secret"), "`server.url`"),
        (StreamError("the stream ended before a done or error event"), "Is the server still"),
        (httpx.ReadTimeout("quiet", request=REQUEST), "stopped sending"),
        (httpx.RemoteProtocolError("peer closed", request=REQUEST), "broke: peer closed"),
        (ValueError("SSE event name 'x' does not match"), "not a lab event stream"),
        (wrapped(httpx.ConnectError("refused", request=REQUEST)), f"`{SERVER_COMMAND}`"),
        (wrapped(httpx.ReadError("reset", request=REQUEST)), "broke: reset"),
    ],
)
def test_each_failure_says_what_happened_and_what_to_do(exc: Exception, says: str) -> None:
    assert says in unescape(failure_message(exc, URL))


# ---- The app, run by AppTest against a real lab server ----------------------------------------


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serve_in_thread(create_app(ServerSettings(**FAST), token=TEST_TOKEN)) as url:
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
    slow = ServerSettings(**{**FAST, "tokens_per_second": 2.0})
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
        create_app(ServerSettings(**FAST, fail_after_tokens=3), token=TEST_TOKEN)
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
