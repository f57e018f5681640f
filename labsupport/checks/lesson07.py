"""Checks for lesson 07 (streaming in production: proxies, timeouts, connections).

Both checks give a verdict from the answer itself, then, where nginx is
installed, try it for real: a lab server in this process, a real nginx in front
of it, and a stream read through it. Without nginx they say the trial was
skipped; the verdict stands on the first part.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx

from ..arrivals import arrival_times
from ..client import StreamError, stream_events
from ..kernel_server import ServerHandle, start_server
from ..nginx import INSTALL_HINT, NginxStartError, find_nginx, start_nginx
from ..nginx_config import render_config
from ..server import ServerSettings
from ._report import Check, attempt, exercise, fail, ok

__all__ = ["QUESTION", "keepalive_for", "streaming_directives"]

QUESTION = "Who runs billing?"

_NAME = "lesson07-check"
# The proxy timeouts the keep-alive interval is tried against: nginx's default, a
# load balancer's, Cloudflare's, a short one, and the one the real trial uses.
_TIMEOUTS = (60.0, 100.0, 30.0, 10.0, 1.0)
_TRIAL_TIMEOUT = 1.0
_TRIAL_TOOL_SECONDS = 1.5
_NO_TRIAL = f"(nginx is not installed, so the real trial was skipped: {INSTALL_HINT}.)"

# The directives that let events through a proxy that ignores X-Accel-Buffering and
# compresses event streams, as the check's nginx does: buffering off, the fix that holds
# whatever else the proxy does; or compression off, since here the compressor is what
# sits on the events (lesson 7, Check yourself 5).
_FLOWING = ("proxy_buffering", "gzip")
_BUFFERING_HINT = (
    "turn off the proxy's buffering for this location (the directive is proxy_buffering)."
)


@contextmanager
def _lab_server(**settings: Any) -> Iterator[ServerHandle]:
    server = start_server(settings=ServerSettings(**settings), name=_NAME)
    try:
        yield server
    finally:
        server.stop()


def _nginx_said(error: NginxStartError) -> str:
    """nginx's first complaint, without its timestamp, pid and temporary file name."""
    for line in error.log_lines:
        match = re.search(r"\[(?:emerg|alert|crit)\] [\d#]+: (.*?)(?: in \S+:\d+)?$", line)
        if match:
            return match.group(1)
    return str(error).splitlines()[0]


def _static_problem(directives: Sequence[str]) -> tuple[str, str] | None:
    """Why these (well-formed) directives leave the stream buffered, judged without nginx; or None.

    Example: ["proxy_buffering off;"] -> None; ["proxy_bufering off;"] -> a problem whose
    hint asks "did you mean 'proxy_buffering'?".
    """
    given: dict[str, list[str]] = {}
    for directive in directives:
        name, *values = directive.strip().removesuffix(";").split() or [""]
        if not name:
            return "one of them is empty, just ';'.", "write each like 'name value;'."
        if name in _FLOWING:
            if name in given:
                return f"{name} is given twice; nginx refuses a duplicate.", "keep one of them."
            if len(values) != 1 or values[0].lower() not in ("on", "off"):
                return (
                    f"{directive.strip()!r}: {name} takes one value, on or off.",
                    f"write it as '{name} off;'.",
                )
        given[name] = [value.lower() for value in values]
    if any(given.get(name) == ["off"] for name in _FLOWING):
        return None
    if given.get("proxy_buffering") == ["on"]:
        return (
            "proxy_buffering on is nginx's default: it collects the response before passing it on.",
            "the value that relays each event as it comes is off.",
        )
    for name in given:
        close = difflib.get_close_matches(name, _FLOWING, n=1, cutoff=0.8)
        if close and close[0] != name:
            return f"{name!r} is not an nginx directive.", f"did you mean {close[0]!r}?"
    if any("x-accel-buffering" in directive.lower() for directive in directives):
        return (
            "X-Accel-Buffering is a header nginx reads from the app's response, and this proxy "
            "ignores it; setting it in the location leaves nginx's own buffering on.",
            _BUFFERING_HINT,
        )
    what = f"none of {list(directives)!r} turns" if directives else "no directive turns"
    return f"{what} nginx's buffering off: it holds the events back until the end.", _BUFFERING_HINT


@exercise
def streaming_directives(func: Callable[[], Any]) -> Check:
    """Exercise 1: directives that make nginx stream even though it ignores X-Accel-Buffering.

    The verdict comes from the directives themselves; with nginx installed, they are also
    tried on a real one, which must then stream too.
    """
    result = attempt(func)
    if result.error is not None:
        return fail(
            f"streaming_directives() raised {result.describe_error()}.",
            "return a list of strings, one nginx directive each.",
        )
    directives: Any = result.value  # render_config says precisely what is wrong with it
    if directives is None:
        return fail(
            "streaming_directives() returned None.",
            "return a list of nginx directives, each a string ending in ';'.",
        )
    if isinstance(directives, str):
        return fail(
            f"streaming_directives() returned the string {directives!r}.",
            "return a list of strings, even for one directive: [...].",
        )
    try:  # the same validation start_nginx applies, with or without nginx
        render_config("http://127.0.0.1:1", port=1, workdir=Path("."), directives=directives)
    except (TypeError, ValueError) as exc:
        return fail(f"those are not nginx directives: {exc}.", "write each like 'name value;'.")
    problem = _static_problem(directives)
    if problem is not None:
        return fail(*problem)
    if find_nginx() is None:
        return ok(
            f"with {directives!r}, nginx relays each event as it comes even though it ignores "
            f"the server's X-Accel-Buffering header. {_NO_TRIAL}"
        )
    with _lab_server(ttft=0.2, tokens_per_second=40, tool_delay=0.1) as server:
        try:
            proxy = start_nginx(
                server.url, accel_buffering="ignore", directives=directives, name=_NAME
            )
        except NginxStartError as exc:
            return fail(
                f"nginx refused them: {_nginx_said(exc)}.",
                "check the directive's name and value in nginx's proxy module documentation.",
            )
        with proxy:
            try:
                arrivals = arrival_times(proxy.url, QUESTION)
            except (StreamError, httpx.HTTPError) as exc:
                status = exc.status_code if isinstance(exc, StreamError) else None
                what = f"nginx answered {status}" if status else str(exc).splitlines()[0]
                return fail(
                    f"through a real nginx with your directives, the stream broke: {what}.",
                    "keep only what the location needs to stream; proxy_buffering off; is enough.",
                )
    first, last = arrivals[0][0], arrivals[-1][0]
    if first > last / 2:
        return fail(
            "on a real nginx the events were still held back: the first one arrived with the "
            "last, so something among your directives buffers after all.",
            "try proxy_buffering off; on its own, then add the others back one by one.",
        )
    return ok(
        f"with {directives!r}, nginx streams event by event even though it ignores "
        "the server's X-Accel-Buffering header."
    )


def _bounds_problem(timeout: float, value: object) -> tuple[str, str] | None:
    """What is wrong with ``value`` as the keep-alive interval for ``timeout``, or None."""
    where = f"keepalive_for({timeout:g})"
    if value is None:
        return f"{where} returned None.", "return a number of seconds."
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{where} returned {value!r}.", "return a number of seconds, such as 5.0."
    if value <= 0:
        return f"{where} returned {value!r}.", "an interval is a positive number of seconds."
    if value >= timeout:
        return (
            f"{where} returned {value:g}: the proxy cuts a silence of {timeout:g} s before "
            "that keep-alive is sent.",
            "the interval must be shorter than the timeout it guards against.",
        )
    if value > timeout / 2:
        return (
            f"{where} returned {value:g}, which cuts it close: one keep-alive a little late "
            "(a busy server, a slow network) and the proxy cuts the stream.",
            "leave a margin: at most half the timeout.",
        )
    if value < timeout / 10:
        return (
            f"{where} returned {value:g}: far more often than needed. Each keep-alive is a "
            "write on every open stream, thousands of them on a busy server.",
            "between a tenth and a half of the timeout is plenty.",
        )
    return None


@exercise
def keepalive_for(func: Callable[[float], Any]) -> Check:
    """Exercise 2: a keep-alive interval that keeps a stream alive behind a proxy's idle timeout."""
    values: dict[float, float] = {}
    for timeout in _TIMEOUTS:
        result = attempt(func, timeout)
        if result.error is not None:
            return fail(
                f"keepalive_for({timeout:g}) raised {result.describe_error()}.",
                "compute the interval from proxy_timeout and return it.",
            )
        problem = _bounds_problem(timeout, result.value)
        if problem is not None:
            return fail(*problem)
        values[timeout] = float(cast(float, result.value))
    if find_nginx() is None:
        return ok(f"keepalive_for() leaves a margin under every timeout. {_NO_TRIAL}")
    interval = values[_TRIAL_TIMEOUT]
    settings = {"ttft": 0.0, "tokens_per_second": None, "tool_delay": _TRIAL_TOOL_SECONDS}
    with (
        _lab_server(**settings, keepalive_seconds=interval) as server,
        start_nginx(server.url, read_timeout=_TRIAL_TIMEOUT, name=_NAME) as proxy,
    ):
        try:
            kinds = [event.type for event in stream_events(proxy.url, QUESTION)]
        except (StreamError, httpx.HTTPError) as exc:
            return fail(
                f"behind nginx with proxy_read_timeout {_TRIAL_TIMEOUT:g} s, the stream was "
                f"cut during a {_TRIAL_TOOL_SECONDS:g} s tool call ({type(exc).__name__}).",
                "the interval must be well under the timeout.",
            )
    if kinds[-1] != "done":
        return fail(f"the run ended with {kinds[-1]!r} instead of 'done'.", "try the run again.")
    return ok(
        "keepalive_for() leaves a margin under every timeout, and behind a real nginx "
        f"that cuts after {_TRIAL_TIMEOUT:g} s of silence, a {_TRIAL_TOOL_SECONDS:g} s tool "
        "call got through."
    )
