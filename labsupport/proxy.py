"""A real nginx in front of the lab server, on a loopback port, to see what a proxy does to a stream.

    >>> proxy = start_nginx(server.url)                  # doctest: +SKIP
    >>> proxy.url                                          # doctest: +SKIP
    'http://127.0.0.1:40213'
    >>> proxy.stop()                                       # doctest: +SKIP

Production traffic usually reaches an app through a reverse proxy, and a proxy
may hold a response back and pass it on in big pieces, which turns a token
stream into one late block. nginx, the most common one, decides per response:
an upstream that sends ``X-Accel-Buffering: no`` (the lab server does) is
relayed piece by piece, each piece flushed to the client at once. Otherwise
nginx buffers, and what buffering costs depends on what else the proxy does:
with compression on (``gzip``, common for text), nothing is flushed, so the
compressor sits on the events until the stream ends. (Without compression, a
chunked response like the lab's still moves chunk by chunk while the client
keeps up; a slow client or an upstream that does not chunk brings the delay
back.) nginx also gives up on an upstream that stays silent for
``proxy_read_timeout`` (60 s by default), which is why the server sends
keep-alive comments while a slow tool runs.

The knobs of ``start_nginx`` are exactly those:

- ``accel_buffering="honour"`` (nginx's default) or ``"ignore"`` (adds
  ``proxy_ignore_headers X-Accel-Buffering;``, which is how a proxy that does not
  know the convention behaves): streamed versus buffered;
- ``gzip=True`` (the default) compresses event streams, as many production
  configs compress every text type;
- ``buffering=False`` adds ``proxy_buffering off;``, the fix on the proxy's side;
- ``read_timeout`` sets ``proxy_read_timeout`` in seconds;
- ``directives`` adds lines of your own to the proxied ``location``, where they
  override the knobs above.

How it runs: a generated config in a fresh temporary directory that holds
everything nginx writes (pid file, error and access logs, temp files), so it
needs no system paths and works as root or not; ``daemon off`` as a child
process; ``stop()`` ends it and removes the directory. Starting again under the
same ``name`` replaces the old one, so re-running a notebook cell just works.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "INSTALL_HINT",
    "AccelBuffering",
    "NginxNotFound",
    "NginxProxy",
    "NginxStartError",
    "arrival_times",
    "find_nginx",
    "render_config",
    "start_nginx",
    "stop_all",
]

AccelBuffering = Literal["honour", "ignore"]

INSTALL_HINT = "sudo apt-get install nginx"

# Where distributions put the binary; /usr/sbin is often not on a normal user's PATH.
_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
_STARTUP_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_START_ATTEMPTS = 3  # a free port may be taken by another program before nginx binds it
# Characters with a meaning in nginx's config syntax: directive and block ends, quotes,
# comments, variables, separators. A URL holding one could inject config.
_UNSAFE = set(";{}\"'\\ \t\r\n#$")

_registry_lock = threading.Lock()
_proxies: dict[str, NginxProxy] = {}


class NginxNotFound(FileNotFoundError):
    """No nginx binary on this machine; the message says how to install one."""


class NginxStartError(RuntimeError):
    """nginx refused the config or did not start; ``log_lines`` holds what it said."""

    def __init__(self, message: str, log_lines: Sequence[str] = ()) -> None:
        self.log_lines = list(log_lines)
        details = "\n".join(f"  {line}" for line in self.log_lines)
        super().__init__(f"{message}\nnginx said:\n{details}" if details else message)


def find_nginx() -> str | None:
    """The nginx binary's path (``LAB_NGINX``, then ``PATH``, then the usual places), or None."""
    configured = os.environ.get("LAB_NGINX")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in _CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _require_nginx(nginx: str | None) -> str:
    if nginx is not None:
        if not isinstance(nginx, str) or not os.access(nginx, os.X_OK):
            raise NginxNotFound(f"nginx={nginx!r} is not an executable file")
        return nginx
    found = find_nginx()
    if found is None:
        where = os.environ.get("LAB_NGINX")
        extra = f" (LAB_NGINX={where!r} is not an executable file)" if where else ""
        raise NginxNotFound(
            f"nginx is not installed{extra}; install it with: {INSTALL_HINT} "
            "(the lab starts its own copy on a loopback port; the system service can stay stopped)"
        )
    return found


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
    upstream: str,
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

    Every path nginx writes is inside ``workdir``. Arguments as ``start_nginx``.
    """
    target = _check_upstream(upstream)
    if accel_buffering not in ("honour", "ignore"):
        raise ValueError(f"accel_buffering must be 'honour' or 'ignore', got {accel_buffering!r}")
    for knob, value in (("gzip", gzip), ("buffering", buffering)):
        if not isinstance(value, bool):
            raise TypeError(f"{knob} must be True or False, got {value!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an int from 1 to 65535, got {port!r}")
    timeout_ms = _check_timeout(read_timeout)
    extra = _check_directives(directives)
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
    w = workdir
    lines = [
        "# Generated by labsupport.proxy: a loopback reverse proxy for the lab server.",
        "daemon off;",
        "worker_processes 1;",
        f"pid {_quote(w / 'nginx.pid')};",
        f"error_log {_quote(w / 'error.log')} info;",
        _user_line(),
        "events {",
        "    worker_connections 1024;",
        "}",
        "http {",
        f"    access_log {_quote(w / 'access.log')};",
        f"    client_body_temp_path {_quote(w / 'client_body')};",
        f"    proxy_temp_path {_quote(w / 'proxy')};",
        f"    fastcgi_temp_path {_quote(w / 'fastcgi')};",
        f"    uwsgi_temp_path {_quote(w / 'uwsgi')};",
        f"    scgi_temp_path {_quote(w / 'scgi')};",
        "    server {",
        f"        listen 127.0.0.1:{port};",
        *(f"        {line}" for line in knobs),
        "        location / {",
        f"            proxy_pass {target};",
        *(f"            {line}" for line in extra),
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(line for line in lines if line) + "\n"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class NginxProxy:
    """A running nginx: ``url``, ``config``, ``error_log()``, ``stop()``; also a context manager."""

    def __init__(
        self, *, name: str, upstream: str, nginx: str, config: str, port: int, workdir: Path
    ) -> None:
        self.name = name
        self.upstream = upstream
        self.nginx = nginx
        self.config = config
        self.port = port
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where the proxy answers, e.g. ``http://127.0.0.1:40213``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the nginx process is alive."""
        return self._process is not None and self._process.poll() is None

    def error_log(self) -> list[str]:
        """nginx's own log lines so far (startup problems, upstream timeouts, ...)."""
        lines: list[str] = []
        for name in ("stderr.log", "error.log"):
            with contextlib.suppress(OSError):
                lines += (self.workdir / name).read_text(errors="replace").splitlines()
        return lines

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<NginxProxy {self.name!r} {self.url} -> {self.upstream} {state}>"

    def __enter__(self) -> NginxProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        (self.workdir / "nginx.conf").write_text(self.config)
        with (self.workdir / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen(
                [self.nginx, "-p", f"{self.workdir}/", "-c", str(self.workdir / "nginx.conf")],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                cwd=self.workdir,
                start_new_session=True,  # a Ctrl-C in the terminal or kernel is not meant for it
            )
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        # nginx writes its pid file only after binding the port: then a connect proves it is ours.
        while not ((self.workdir / "nginx.pid").exists() and _accepts(self.port)):
            if self._process.poll() is not None:
                raise NginxStartError(
                    f"nginx exited with code {self._process.returncode} while starting",
                    self._interesting_lines(),
                )
            if time.monotonic() > deadline:
                self._terminate()
                raise NginxStartError(
                    f"nginx did not answer on {self.url} within {_STARTUP_TIMEOUT:g} s",
                    self._interesting_lines(),
                )
            time.sleep(0.01)

    def _interesting_lines(self) -> list[str]:
        lines = self.error_log()
        problems = [
            line for line in lines if "[emerg]" in line or "[alert]" in line or "[crit]" in line
        ]
        return problems or lines[-10:]

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: nginx's fast shutdown, open connections are closed
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop nginx (open streams are cut) and remove its temporary directory."""
        self._terminate()
        shutil.rmtree(self.workdir, ignore_errors=True)
        with _registry_lock:
            if _proxies.get(self.name) is self:
                del _proxies[self.name]


def start_nginx(
    upstream: str,
    *,
    accel_buffering: AccelBuffering = "honour",
    gzip: bool = True,
    buffering: bool = True,
    read_timeout: float | None = None,
    directives: Sequence[str] = (),
    name: str = "lab",
    nginx: str | None = None,
) -> NginxProxy:
    """Start nginx on a free 127.0.0.1 port as a reverse proxy for ``upstream``; returns its handle.

    ``accel_buffering``: ``"honour"`` the upstream's ``X-Accel-Buffering: no`` (nginx's
    default) or ``"ignore"`` it. ``gzip``: compress event streams. ``buffering=False``
    turns nginx's buffering off for every response. ``read_timeout``: seconds nginx waits for the upstream's next bytes
    before it gives up (None: nginx's 60 s). ``directives``: extra lines for the
    ``location``, each ending in ``;``. ``nginx``: the binary (default: ``find_nginx()``).

    Raises ``NginxNotFound`` when there is no nginx, ``NginxStartError`` with nginx's
    own log lines when it refuses to start, ``TypeError``/``ValueError`` on bad arguments.
    A proxy started earlier under the same ``name`` is stopped first.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    # Validate everything before touching the disk or the registry.
    render_config(
        upstream,
        port=1,
        workdir=Path("/"),
        accel_buffering=accel_buffering,
        gzip=gzip,
        buffering=buffering,
        read_timeout=read_timeout,
        directives=directives,
    )
    binary = _require_nginx(nginx)
    with _registry_lock:
        old = _proxies.pop(name, None)
    if old is not None:
        old.stop()
    last_error: NginxStartError | None = None
    for _attempt in range(_START_ATTEMPTS):
        workdir = Path(tempfile.mkdtemp(prefix="lab-nginx-"))
        port = _free_port()
        config = render_config(
            upstream,
            port=port,
            workdir=workdir,
            accel_buffering=accel_buffering,
            gzip=gzip,
            buffering=buffering,
            read_timeout=read_timeout,
            directives=directives,
        )
        proxy = NginxProxy(
            name=name, upstream=upstream, nginx=binary, config=config, port=port, workdir=workdir
        )
        try:
            proxy._start()
        except NginxStartError as exc:
            proxy.stop()
            if not any("Address already in use" in line for line in exc.log_lines):
                raise
            last_error = exc
            continue
        with _registry_lock:
            _proxies[name] = proxy
        return proxy
    assert last_error is not None
    raise last_error


def arrival_times(url: str, message: str = "Who runs billing?") -> list[tuple[float, str]]:
    """Ask the server (or proxy) at ``url``; each event's type and when it arrived.

    Times are seconds since the request was sent, as the client saw them:
    ``[(0.11, 'status'), (0.11, 'thought'), ..., (0.89, 'done')]``. A stream that
    breaks off raises (``StreamError`` or httpx's error), as ``stream_events`` does.
    """
    from .client import stream_events  # the client is only needed to measure

    start = time.monotonic()
    return [(time.monotonic() - start, event.type) for event in stream_events(url, message)]


def stop_all() -> None:
    """Stop every nginx started in this process."""
    with _registry_lock:
        proxies = list(_proxies.values())
    for proxy in proxies:
        proxy.stop()


# No nginx outlives the kernel or interpreter that started it.
atexit.register(stop_all)
