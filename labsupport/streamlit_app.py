"""A Streamlit front end for the lab server: the same run, in the other UI toolkit.

Start the lab server, then the app, each in its own terminal, both with the same
secret in ``$LAB_TOKEN`` (the environment: other users can read a command line, but
not another user's environment)::

    export LAB_TOKEN=...   # the same value in both terminals
    uvicorn labsupport.server:app
    streamlit run labsupport/streamlit_app.py --server.address 127.0.0.1

The client takes the secret from ``$LAB_TOKEN``, or from a ``?token=`` in the URL
typed in the sidebar (``server.url`` of a server started in a notebook).

The app asks the server's ``POST /chat/stream`` through ``labsupport.client.stream_events``
and draws each event as it arrives: the agent's steps in an ``st.status`` box whose
label follows the latest step (expanded while the run is going, collapsed when it
ends), the answer streaming below it through ``st.write_stream``, then the sources
and the cost. Earlier questions and answers stay on the page (``st.session_state``).
The chat input's Stop button stops the script, which closes the connection, and
the server stops the run.

The pieces that decide what to show are plain functions of a ``RunState`` (no
Streamlit calls), so they can be tested on their own; the drawing functions below
them are thin. Text that came from the stream is escaped before it reaches
Markdown, so a step or a title always shows as the characters it holds.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import httpx
import streamlit as st
from streamlit.elements.lib.mutable_status_container import StatusContainer

from labsupport.client import StreamError, stream_events
from labsupport.events import CostEvent, ErrorEvent
from labsupport.lab_url import TOKEN_ENV, masked
from labsupport.runstate import RunState, Step
from labsupport.terminal import format_cost

__all__ = [
    "DEFAULT_SERVER_URL",
    "SERVER_COMMAND",
    "Turn",
    "answer_tokens",
    "cost_caption",
    "default_server_url",
    "escape_markdown",
    "failure_message",
    "inline_code",
    "run_error_message",
    "sources_markdown",
    "status_label",
    "status_state",
    "step_markdown",
    "url_problem",
]

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
SERVER_COMMAND = "uvicorn labsupport.server:app"
ENV_VAR = "LAB_SERVER_URL"

StatusState = Literal["running", "complete", "error"]

_ICONS = {"status": "•", "thought": "✎", "tool_call": "→", "tool_result": "←"}
_LABEL_CHARS = 80
# Every ASCII punctuation character: CommonMark lets a backslash escape any of them.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


@dataclass
class Turn:
    """One question and what came back: the run's state, or why nothing (more) came."""

    question: str
    state: RunState = field(default_factory=RunState)
    failure: str | None = None


def default_server_url(environ: Mapping[str, str] | None = None) -> str:
    """The server URL to start with: ``$LAB_SERVER_URL`` if set, else the server's default."""
    env = os.environ if environ is None else environ
    return env.get(ENV_VAR, "").strip() or DEFAULT_SERVER_URL


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the lab server's address, or ``None`` if it looks right."""
    text = url.strip()
    example = f"for example `{DEFAULT_SERVER_URL}`"
    if not text:
        return f"Enter the lab server's URL in the sidebar, {example}."
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        return f"The server URL must start with http:// or https://, {example}; got {inline_code(text)}."
    if not parts.hostname:
        return f"The server URL has no host name, {example}; got {inline_code(text)}."
    return None


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that shows exactly these characters, on one line."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def inline_code(text: str) -> str:
    """``text`` as one Markdown code span, whatever backticks it holds."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def step_markdown(step: Step) -> str:
    """One line of the status box for a step: an icon, then the step's text."""
    icon = _ICONS[step.kind]
    if step.kind == "tool_call":
        return f"{icon} {inline_code(step.text)}"
    if step.kind == "thought":
        return f"{icon} *{escape_markdown(step.text)}*"
    return f"{icon} {escape_markdown(step.text)}"


def status_label(state: RunState, failure: str | None = None) -> str:
    """The status box's label: the latest step while running, the outcome once ended."""
    if failure is not None:
        return "The stream broke off" if state.event_count else "No answer from the lab server"
    if state.outcome == "finished":
        return f"Done: {len(state.steps)} steps"
    if state.outcome == "error":
        code = state.error.code if state.error is not None else "error"
        return f"Failed: {escape_markdown(code)}"
    if state.outcome == "cancelled":
        return "Stopped before the end"
    if not state.steps:
        return "Asking the lab server…"
    step = state.steps[-1]
    if step.kind == "status":
        text = step.text[:1].upper() + step.text[1:] + "…"
    else:
        text = f"{_ICONS[step.kind]} {step.text}"
    return escape_markdown(textwrap.shorten(text, _LABEL_CHARS, placeholder="…"))


def status_state(state: RunState, failure: str | None = None) -> StatusState:
    """The status box's state: running until the run ends, then complete or error."""
    if failure is not None or state.outcome in ("error", "cancelled"):
        return "error"
    return "complete" if state.outcome == "finished" else "running"


def sources_markdown(citations: Sequence[tuple[str, str]]) -> str:
    """The cited documents on one line: ``**Sources:** `D1` Payments team · `D3` ...``."""
    names = " · ".join(
        f"{inline_code(doc_id)} {escape_markdown(title)}" for doc_id, title in citations
    )
    return f"**Sources:** {names or 'none'}"


def cost_caption(cost: CostEvent) -> str:
    """What the run cost: dollars, then tokens in and out."""
    return (
        f"Cost: {format_cost(cost.usd)} for {cost.total_tokens} tokens "
        f"({cost.prompt_tokens} prompt + {cost.completion_tokens} answer)"
    )


def run_error_message(error: ErrorEvent) -> str:
    """The ``st.error`` text for a run that ended with an ``error`` event."""
    return f"The run failed ({inline_code(error.code)}): {escape_markdown(error.message)}"


def failure_message(exc: Exception, url: str) -> str:
    """What went wrong talking to the server at ``url``, and what to do about it."""
    where = inline_code(masked(url))  # never the secret on the page
    if isinstance(exc, StreamError) and isinstance(exc.__cause__, httpx.HTTPError):
        exc = exc.__cause__  # the client wraps a transport failure; its cause says which
    if isinstance(exc, StreamError) and exc.status_code == 404:
        return (
            f"{where} has no `/chat/stream` endpoint (404), so it is not the lab server. "
            f"Check the server URL in the sidebar; the lab server answers at {DEFAULT_SERVER_URL}."
        )
    if isinstance(exc, StreamError) and exc.status_code in (401, 403):
        return (
            f"The lab server wants its secret ({exc.status_code}): start this app with "
            f"`{TOKEN_ENV}` set to the secret the server was started with, or put the "
            "server's whole `server.url` (it ends in `?token=...`) in the sidebar."
        )
    if isinstance(exc, StreamError) and exc.status_code is not None and exc.status_code < 500:
        return (
            f"The lab server refused the question ({exc.status_code}): "
            f"{escape_markdown(exc.detail)}. Change the question and ask again."
        )
    if isinstance(exc, StreamError) and exc.status_code is not None:
        return (
            f"The lab server failed ({exc.status_code}): {escape_markdown(exc.detail)}. "
            "Its terminal shows the traceback."
        )
    if isinstance(exc, StreamError):
        return (
            f"The stream ended too soon: {escape_markdown(str(exc))}. Is the server still running?"
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return (
            f"Cannot reach the lab server at {where}. Start it in a terminal with "
            f"`{SERVER_COMMAND}` (it listens on {DEFAULT_SERVER_URL}), "
            "or fix the server URL in the sidebar."
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"The lab server at {where} stopped sending. Is it still running? Ask again."
    if isinstance(exc, httpx.HTTPError):
        return f"The connection to the lab server at {where} broke: {escape_markdown(str(exc))}."
    return (
        f"The server at {where} sent something that is not a lab event stream: "
        f"{escape_markdown(str(exc))}. Is this the lab server's URL?"
    )


# ---- Drawing: thin Streamlit calls over the functions above ------------------------------


def _history() -> list[Turn]:
    turns: list[Turn] = st.session_state.setdefault("turns", [])
    return turns


def _show_results(turn: Turn) -> None:
    """Below the answer: sources and cost, then what went wrong, if anything did."""
    state = turn.state
    if state.citations or state.outcome == "finished":
        st.markdown(sources_markdown(state.citations))
    if state.cost is not None:
        st.caption(cost_caption(state.cost))
    if turn.failure is not None:
        st.error(turn.failure)
    elif state.error is not None:
        st.error(run_error_message(state.error))
    elif state.outcome == "cancelled":
        st.warning("Stopped: the connection was closed, so the server stopped the run.")


def _show_past(turn: Turn) -> None:
    """A turn from the history, as it ended."""
    with st.chat_message("user"):
        st.markdown(escape_markdown(turn.question))
    with st.chat_message("assistant"):
        status = st.status(
            status_label(turn.state, turn.failure),
            state=status_state(turn.state, turn.failure),
            expanded=False,
        )
        for step in turn.state.steps:
            status.markdown(step_markdown(step))
        if turn.state.answer:
            st.markdown(turn.state.answer)
        _show_results(turn)


def answer_tokens(url: str, turn: Turn, status: StatusContainer) -> Iterator[str]:
    """Fold each event into ``turn``, add steps to ``status``, and yield the answer's text.

    Each step re-labels the box and keeps it open: ``update()`` without ``expanded``
    would let it fold while the run is still going.
    """
    events = stream_events(url, turn.question)
    with closing(events):  # however this ends, the connection closes and the run stops
        for event in events:
            before = len(turn.state.steps)
            turn.state.apply(event)
            if event.type == "token":
                yield event.text
            elif len(turn.state.steps) > before:
                status.markdown(step_markdown(turn.state.steps[-1]))
                status.update(label=status_label(turn.state), expanded=True)


def _ask(url: str, turn: Turn) -> None:
    """Stream a new turn into the page as its events arrive."""
    with st.chat_message("user"):
        st.markdown(escape_markdown(turn.question))
    with st.chat_message("assistant"):
        status = st.status(status_label(turn.state), expanded=True)
        try:
            st.write_stream(answer_tokens(url, turn, status))
        except (StreamError, httpx.HTTPError, ValueError) as exc:
            turn.failure = failure_message(exc, url)
        finally:
            turn.state.cancel()  # no-op once the run ended; marks a stopped script's run
        status.update(
            label=status_label(turn.state, turn.failure),
            state=status_state(turn.state, turn.failure),
            expanded=False,
        )
        _show_results(turn)


def main() -> None:
    """The page: a sidebar with the server URL, the conversation, a chat input."""
    st.set_page_config(page_title="Lab agent", page_icon="💬")
    st.title("Ask the lab agent")
    st.caption("Its steps, answer, sources and cost, streamed from the lab server over SSE.")
    history = _history()
    with st.sidebar:
        url = st.text_input("Lab server URL", value=default_server_url(), key="server_url")
        st.caption(
            f"Start the server in a terminal: `{SERVER_COMMAND}`, with the same "
            f"`{TOKEN_ENV}` as this app"
        )
        if st.button("Clear the conversation"):
            history.clear()
    for turn in history:
        _show_past(turn)
    question = st.chat_input("Ask about Kestrel, e.g. Who runs billing?", submit_mode="stop")
    if question is None:
        return
    problem = url_problem(url)
    if problem is not None:
        st.error(problem)
        return
    turn = Turn(question)
    history.append(turn)  # first, so a stopped run still shows in the history
    _ask(url.strip(), turn)


if __name__ == "__main__":  # `streamlit run` and AppTest execute the file as __main__
    main()
