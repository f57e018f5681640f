"""A real Redis for the lab, on a free loopback port, holding nothing on disk.

    >>> redis = start_redis()                # doctest: +SKIP
    >>> redis.url                            # doctest: +SKIP
    'redis://127.0.0.1:40125/0'
    >>> redis.stop()                         # doctest: +SKIP

It runs the distribution's ``redis-server`` as a child process in a fresh
temporary directory, bound to 127.0.0.1 only, with persistence off (``--save ""
--appendonly no``): stopping it forgets every run, which is what a lesson and a
test want. ``restart()`` stops it and starts it again on the same port, empty,
as a crashed Redis without persistence comes back. Starting again under the
same ``name`` replaces the old one. Only the standard library is needed, so
``find_redis_server()`` works in any environment.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .handles import Handle, free_port
from .programs import find_program

__all__ = ["INSTALL_HINT", "RedisNotFound", "RedisServer", "find_redis_server", "start_redis"]

INSTALL_HINT = "sudo apt-get install redis-server"

_CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server")
_STARTUP_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0

_lock = threading.Lock()
_servers: dict[str, RedisServer] = {}


class RedisNotFound(FileNotFoundError):
    """No ``redis-server`` on this machine; the message says how to install it."""


def find_redis_server() -> str | None:
    """The ``redis-server`` binary (``LAB_REDIS_SERVER``, then ``PATH``, then the usual places)."""
    return find_program("redis-server", "LAB_REDIS_SERVER", _CANDIDATES)


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(Handle):
    """A running ``redis-server``: ``url``, ``port``, ``log()``, ``restart()``, ``stop()``."""

    def __init__(self, *, name: str, binary: str, port: int, workdir: Path) -> None:
        self.name = name
        self.binary = binary
        self.port = port
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL to give ``ServerSettings(run_store=...)``, e.g. ``redis://127.0.0.1:40125/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def log(self) -> list[str]:
        """What redis-server said so far."""
        try:
            return (self.workdir / "redis.log").read_text(errors="replace").splitlines()
        except OSError:
            return []

    def _start(self) -> None:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", str(self.workdir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, cwd=self.workdir, start_new_session=True
        )
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not _pong(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._terminate()
                said = "\n".join(f"  {line}" for line in self.log()[-10:])
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{said}")
            time.sleep(0.02)

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same port, empty (nothing was persisted)."""
        self._terminate()
        self._start()

    def stop(self) -> None:
        """Stop redis-server and remove its directory."""
        self._terminate()
        shutil.rmtree(self.workdir, ignore_errors=True)
        with _lock:
            if _servers.get(self.name) is self:
                del _servers[self.name]


def start_redis(name: str = "lab", *, binary: str | None = None) -> RedisServer:
    """Start ``redis-server`` on a free 127.0.0.1 port with no persistence; returns its handle.

    Raises ``RedisNotFound`` (saying how to install it) when there is no redis-server.
    """
    found = binary if binary is not None else find_redis_server()
    if found is None or not os.access(found, os.X_OK):
        raise RedisNotFound(f"redis-server is not installed; install it with: {INSTALL_HINT}")
    with _lock:
        old = _servers.pop(name, None)
    if old is not None:
        old.stop()
    server = RedisServer(
        name=name,
        binary=found,
        port=free_port(),
        workdir=Path(tempfile.mkdtemp(prefix="lab-redis-")),
    )
    try:
        server._start()
    except BaseException:
        server.stop()
        raise
    with _lock:
        _servers[name] = server
    return server


def stop_all() -> None:
    """Stop every redis-server started in this process."""
    with _lock:
        servers = list(_servers.values())
    for server in servers:
        server.stop()


atexit.register(stop_all)
