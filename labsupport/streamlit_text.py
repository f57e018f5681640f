r"""What the Streamlit app says, worked out from a run's state: text and Markdown, no Streamlit calls.

The app (``labsupport.streamlit_app``) draws; this module decides what to show:
the status box's label and state, a line per step, the sources, the cost, and a
failure in words that say what to do. Text that came from the stream is escaped
before it reaches Markdown, so a step or a title always shows as the characters
it holds.

>>> print(escape_markdown("**bold** [link](x)"))
\*\*bold\*\* \[link\]\(x\)
>>> inline_code("a `b` c")
'``a `b` c``'
>>> url_problem("localhost:8000")
'The server URL must start with http:// or https://, for example `http://127.0.0.1:8000`; got `localhost:8000`.'
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlsplit

import httpx

from .client import StreamError
from .events import CostEvent, ErrorEvent
from .lab_url import TOKEN_ENV, masked
from .prices import format_cost
from .runstate import RunState, Step

__all__ = [
    "DEFAULT_SERVER_URL",
    "SERVER_COMMAND",
    "StatusState",
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
