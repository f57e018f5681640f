"""What the Streamlit app says: escaping, labels, steps, sources, cost and failures, in words."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labsupport.client import StreamError
from labsupport.events import CostEvent, ErrorEvent, StatusEvent, TokenEvent
from labsupport.runstate import RunState, Step
from labsupport.streamlit_text import (
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
from tests.support.commonmark import code_span_text, unescape
from tests.support.runs import reference_run


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
