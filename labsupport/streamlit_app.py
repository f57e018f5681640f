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

What to show is decided in ``labsupport.streamlit_text`` (plain functions of a
``RunState``, no Streamlit calls, tested on their own); the drawing here is thin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field

import httpx
import streamlit as st
from streamlit.elements.lib.mutable_status_container import StatusContainer

from labsupport.client import StreamError, stream_events
from labsupport.lab_url import TOKEN_ENV
from labsupport.runstate import RunState
from labsupport.streamlit_text import (
    SERVER_COMMAND,
    cost_caption,
    default_server_url,
    escape_markdown,
    failure_message,
    run_error_message,
    sources_markdown,
    status_label,
    status_state,
    step_markdown,
    url_problem,
)

__all__ = ["Turn", "answer_tokens", "main"]


@dataclass
class Turn:
    """One question and what came back: the run's state, or why nothing (more) came."""

    question: str
    state: RunState = field(default_factory=RunState)
    failure: str | None = None


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
