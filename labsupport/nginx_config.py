"""The nginx config for a loopback reverse proxy in front of the lab server, built from a few knobs.

    >>> print(render_config("http://127.0.0.1:8000", port=8080, workdir=Path("/tmp/w"),
    ...                     gzip=False, buffering=False))    # doctest: +SKIP
    daemon off;
    ...
        server {
            listen 127.0.0.1:8080;
            proxy_buffering off;
            location / {
                proxy_pass http://127.0.0.1:8000;
            }
        }
    }

Several upstreams (``render_config(["http://127.0.0.1:8001", "http://127.0.0.1:8002"], ...)``)
become one ``upstream`` block that nginx balances round-robin, request by request:
the first request goes to the first server, the next to the second, and so on
(lesson 8's workers). A server that refuses connections is skipped.

What the knobs mean for a stream: nginx relays a response piece by piece when
the upstream sends ``X-Accel-Buffering: no`` (the lab server does), and buffers
it otherwise; with compression on (``gzip``, common for text) a buffered event
stream is held until it ends. nginx also gives up on an upstream that stays
silent for ``proxy_read_timeout`` (60 s by default), which is why the server
sends keep-alive comments while a slow tool runs.

- ``accel_buffering="honour"`` (nginx's default) or ``"ignore"`` (adds
  ``proxy_ignore_headers X-Accel-Buffering;``, which is how a proxy that does not
  know the convention behaves): streamed versus buffered;
- ``gzip=True`` (the default) compresses event streams, as many production
  configs compress every text type;
- ``buffering=False`` adds ``proxy_buffering off;``, the fix on the proxy's side;
- ``read_timeout`` sets ``proxy_read_timeout`` in seconds;
- ``directives`` adds lines of your own to the proxied ``location``, where they
  override the knobs above.

Every value is checked before it reaches the text: a URL or directive holding
nginx syntax (``;``, braces, quotes) could otherwise inject config. Every path
nginx writes (pid file, logs, temp files) is inside one work directory, so the
config needs no system paths and works as root or not.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["AccelBuffering", "render_config"]

AccelBuffering = Literal["honour", "ignore"]

# Characters with a meaning in nginx's config syntax: directive and block ends, quotes,
# comments, variables, separators. A URL holding one could inject config.
_UNSAFE = set(";{}\"'\\ \t\r\n#$")


def _check_upstream(upstream: object) -> str:
    if not isinstance(upstream, str):
        raise TypeError(
            f"upstream must be a URL string such as 'http://127.0.0.1:8000', got {upstream!r}"
        )
    parts = urlsplit(upstream)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(
            f"upstream must be an http:// URL with a host, such as 'http://127.0.0.1:8000', got {upstream!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"upstream is a server's base URL with no path or query, got {upstream!r}")
    if _UNSAFE & set(upstream) or parts.username or parts.password:
        raise ValueError(f"upstream must be a plain http://host:port URL, got {upstream!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"upstream has a bad port: {upstream!r} ({exc})") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}:{port or 80}"


def _upstream_lines(upstream: object) -> tuple[list[str], str]:
    """The ``upstream`` block (none for one server) and what ``proxy_pass`` names."""
    if not isinstance(upstream, (list, tuple)) or not upstream:
        return [], _check_upstream(upstream)  # one URL, or the error that says what one is
    servers = [_check_upstream(url).removeprefix("http://") for url in upstream]
    block = ["    upstream lab_workers {", *(f"        server {s};" for s in servers), "    }"]
    return block, "http://lab_workers"


def _host_header(block: list[str]) -> list[str]:
    # Through an upstream block nginx would send "Host: lab_workers"; pass the client's own
    # Host instead, so each worker's host check sees the name the client used.
    return ["proxy_set_header Host $http_host;"] if block else []


def _check_timeout(read_timeout: object) -> int | None:
    """``read_timeout`` in whole milliseconds, nginx's finest unit, or None for its default."""
    if read_timeout is None:
        return None
    if isinstance(read_timeout, bool) or not isinstance(read_timeout, (int, float)):
        raise TypeError(f"read_timeout must be a number of seconds or None, got {read_timeout!r}")
    if math.isnan(read_timeout) or math.isinf(read_timeout) or read_timeout < 0.001:
        raise ValueError(
            f"read_timeout must be a finite number of seconds >= 0.001, got {read_timeout!r}"
        )
    return round(read_timeout * 1000)


def _check_directives(directives: object) -> list[str]:
    if isinstance(directives, str) or not isinstance(directives, Sequence):
        raise TypeError(
            f"directives must be a list of strings such as ['proxy_buffering off;'], got {directives!r}"
        )
    checked = []
    for directive in directives:
        if not isinstance(directive, str):
            raise TypeError(f"each directive must be a str, got {directive!r}")
        line = directive.strip()
        if not line.endswith(";") or line.count(";") != 1:
            raise ValueError(f"each directive is one nginx line ending in ';', got {directive!r}")
        if set("{}\n\r") & set(line):
            raise ValueError(f"a directive must not open or close a block, got {directive!r}")
        checked.append(line)
    return checked


def _check_knobs(accel_buffering: object, gzip: object, buffering: object, port: object) -> None:
    if accel_buffering not in ("honour", "ignore"):
        raise ValueError(f"accel_buffering must be 'honour' or 'ignore', got {accel_buffering!r}")
    for knob, value in (("gzip", gzip), ("buffering", buffering)):
        if not isinstance(value, bool):
            raise TypeError(f"{knob} must be True or False, got {value!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an int from 1 to 65535, got {port!r}")


def _server_knobs(
    accel_buffering: AccelBuffering, gzip: bool, buffering: bool, timeout_ms: int | None
) -> list[str]:
    # The knobs go on the server, the caller's directives on the location: a directive
    # given in both places is an override, never nginx's "directive is duplicate".
    knobs = []
    if gzip:
        knobs += ["gzip on;", "gzip_types text/event-stream;"]
    if accel_buffering == "ignore":
        knobs.append("proxy_ignore_headers X-Accel-Buffering;")
    if not buffering:
        knobs.append("proxy_buffering off;")
    if timeout_ms is not None:
        knobs.append(f"proxy_read_timeout {timeout_ms}ms;")
    return knobs


def _quote(path: Path) -> str:
    text = str(path)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _user_line() -> str:
    # As root, nginx would run its worker as 'nobody', who cannot enter our private
    # temp directory; run it as the user who started it instead. Otherwise say nothing:
    # an unprivileged master cannot switch users and warns if asked to.
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ""
    import grp
    import pwd

    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
    except KeyError:  # no name for our ids (some containers): let nginx pick its default
        return ""
    return f"user {user} {group};"


def render_config(
    upstream: str | Sequence[str],
    *,
    port: int,
    workdir: Path,
    accel_buffering: AccelBuffering = "honour",
    gzip: bool = True,
    buffering: bool = True,
    read_timeout: float | None = None,
    directives: Sequence[str] = (),
) -> str:
    """The nginx config that serves ``127.0.0.1:port`` as a reverse proxy in front of ``upstream``.

    ``upstream`` is one base URL, or several that nginx balances round-robin.

    Every path nginx writes is inside ``workdir``. Arguments as ``start_nginx``.
    """
    block, target = _upstream_lines(upstream)
    _check_knobs(accel_buffering, gzip, buffering, port)
    knobs = _server_knobs(accel_buffering, gzip, buffering, _check_timeout(read_timeout))
    extra = _check_directives(directives)
    w = workdir
    lines = [
        "# Generated by labsupport.nginx_config: a loopback reverse proxy for the lab server.",
        "daemon off;",
        "worker_processes 1;",
        f"pid {_quote(w / 'nginx.pid')};",
        f"error_log {_quote(w / 'error.log')} info;",
        _user_line(),
        "events {",
        # A proxied stream holds two connections (client and upstream): room for 2,000 streams.
        "    worker_connections 4096;",
        "}",
        "http {",
        f"    access_log {_quote(w / 'access.log')};",
        f"    client_body_temp_path {_quote(w / 'client_body')};",
        f"    proxy_temp_path {_quote(w / 'proxy')};",
        f"    fastcgi_temp_path {_quote(w / 'fastcgi')};",
        f"    uwsgi_temp_path {_quote(w / 'uwsgi')};",
        f"    scgi_temp_path {_quote(w / 'scgi')};",
        *block,
        "    server {",
        f"        listen 127.0.0.1:{port};",
        *(f"        {line}" for line in [*_host_header(block), *knobs]),
        "        location / {",
        f"            proxy_pass {target};",
        *(f"            {line}" for line in extra),
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(line for line in lines if line) + "\n"
