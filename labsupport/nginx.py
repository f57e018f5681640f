"""A real nginx in front of the lab server, on a loopback port, to see what a proxy does to a stream.

    >>> proxy = start_nginx(server.url)                  # doctest: +SKIP
    >>> proxy.url                                          # doctest: +SKIP
    'http://127.0.0.1:40213'
    >>> proxy.stop()                                       # doctest: +SKIP

Production traffic usually reaches an app through a reverse proxy, and a proxy
may hold a response back and pass it on in big pieces, which turns a token
stream into one late block. This module runs nginx, the most common one, with
a config from ``labsupport.nginx_config``, whose docstring says what each knob
of ``start_nginx`` does to a stream.

How it runs: the config in a fresh temporary directory that holds everything
nginx writes (pid file, error and access logs, temp files), so it needs no
system paths and works as root or not; ``daemon off`` as a child process;
``stop()`` ends it and removes the directory. Starting again under the same
``name`` replaces the old one, so re-running a notebook cell just works. It
needs only the standard library, so ``labsupport.doctor`` can ask
``find_nginx()`` in any environment.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .handles import Handle, free_port
from .lab_url import split_token, with_token
from .nginx_binary import INSTALL_HINT, NginxNotFound, NginxStartError, find_nginx, require_nginx
from .nginx_config import AccelBuffering, render_config

__all__ = [
    "INSTALL_HINT",
    "NginxNotFound",
    "NginxProxy",
    "NginxStartError",
    "find_nginx",
    "start_nginx",
    "stop_all",
]

_STARTUP_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_START_ATTEMPTS = 3  # a free port may be taken by another program before nginx binds it

_registry_lock = threading.Lock()
_proxies: dict[str, NginxProxy] = {}


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class NginxProxy(Handle):
    """A running nginx: ``url``, ``config``, ``error_log()``, ``stop()``; also a context manager."""

    def __init__(
        self,
        *,
        name: str,
        upstream: str,
        nginx: str,
        config: str,
        port: int,
        workdir: Path,
        token: str | None = None,
    ) -> None:
        self.name = name
        self._token = token
        self.upstream = upstream
        self.nginx = nginx
        self.config = config
        self.port = port
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Where the proxy answers, e.g. ``http://127.0.0.1:40213``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The proxy with the upstream's secret, if it came with one: ``...:40213/?token=...``.

        nginx passes the query and the ``Authorization`` header on unchanged, so
        whatever carries the lab server's secret works through the proxy too.
        """
        return with_token(self.base_url, self._token)

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

    def _address(self) -> str:
        return self.base_url

    def _detail(self) -> str:
        return f"-> {self.upstream}"

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
                    f"nginx did not answer on {self.base_url} within {_STARTUP_TIMEOUT:g} s",
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


def _launch(
    name: str,
    upstream: str,
    binary: str,
    config_for: Callable[[int, Path], str],
    token: str | None,
) -> NginxProxy:
    """A started proxy on a free port, trying another port when one is taken under us."""
    last_error: NginxStartError | None = None
    for _attempt in range(_START_ATTEMPTS):
        workdir = Path(tempfile.mkdtemp(prefix="lab-nginx-"))
        port = free_port()
        proxy = NginxProxy(
            name=name,
            upstream=upstream,
            nginx=binary,
            config=config_for(port, workdir),
            port=port,
            workdir=workdir,
            token=token,
        )
        try:
            proxy._start()
        except NginxStartError as exc:
            proxy.stop()
            if not any("Address already in use" in line for line in exc.log_lines):
                raise
            last_error = exc
            continue
        return proxy
    assert last_error is not None
    raise last_error


def _without_secret(
    upstream: str | Sequence[str],
) -> tuple[str | Sequence[str], str | None]:
    """The upstream URL(s) without their ``?token=``, and the secret they share (or None)."""
    if isinstance(upstream, str):
        return split_token(upstream)
    if not isinstance(upstream, (list, tuple)):
        return upstream, None  # refused, with its name, by the config
    pairs = [split_token(url) if isinstance(url, str) else (url, None) for url in upstream]
    secrets = {token for _, token in pairs}
    if len(secrets) > 1:
        raise ValueError(
            "the upstreams carry different secrets; workers behind one nginx share one"
        )
    return [url for url, _ in pairs], secrets.pop() if secrets else None


def start_nginx(
    upstream: str | Sequence[str],
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

    ``upstream`` is the server's URL, such as ``server.url``, or a list of several that
    nginx balances round-robin: their secret (``?token=``) stays out of nginx's config
    and comes back on the proxy's ``url``.

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
    upstream, token = _without_secret(upstream)

    def config_for(port: int, workdir: Path) -> str:
        return render_config(
            upstream,
            port=port,
            workdir=workdir,
            accel_buffering=accel_buffering,
            gzip=gzip,
            buffering=buffering,
            read_timeout=read_timeout,
            directives=directives,
        )

    config_for(1, Path("/"))  # validate everything before touching the disk or the registry
    binary = require_nginx(nginx)
    with _registry_lock:
        old = _proxies.pop(name, None)
    if old is not None:
        old.stop()
    shown = upstream if isinstance(upstream, str) else " ".join(upstream)
    proxy = _launch(name, shown, binary, config_for, token)
    with _registry_lock:
        _proxies[name] = proxy
    return proxy


def stop_all() -> None:
    """Stop every nginx started in this process."""
    with _registry_lock:
        proxies = list(_proxies.values())
    for proxy in proxies:
        proxy.stop()


# No nginx outlives the kernel or interpreter that started it.
atexit.register(stop_all)
