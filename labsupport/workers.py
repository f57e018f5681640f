"""Several lab servers in processes of their own, behind one nginx that balances them round-robin.

    >>> redis = start_redis()                                          # doctest: +SKIP
    >>> workers = start_workers(2, run_store=redis.url)                # doctest: +SKIP
    >>> workers.url            # nginx: request 1 to worker 0, request 2 to worker 1  # doctest: +SKIP
    'http://127.0.0.1:40311'

This is what production looks like to a stream: a reconnection lands on
whichever worker the balancer picks. Each worker is ``uvicorn
labsupport.worker_app:app`` on its own loopback port, a real process with its own
event loop, so killing one (``kill(i)``) is a real crash. They share the
``run_store`` (``"memory"``: each keeps its own runs), the ``settings`` (a dict
of ``ServerSettings`` fields) and the secret in ``LAB_TOKEN``, if set.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .handles import Handle, free_port
from .nginx import NginxProxy, start_nginx
from .server import ServerSettings

__all__ = ["Workers", "start_workers"]

_STARTUP_TIMEOUT = 30.0
_STOP_TIMEOUT = 5.0


class Workers(Handle):
    """Running workers: ``url`` (nginx), ``worker_urls``, ``pids``, ``kill(i)``, ``stop()``."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.proxy: NginxProxy | None = None

    @property
    def worker_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        """nginx in front of every worker (the first worker's own URL if started without nginx)."""
        return self.proxy.url if self.proxy is not None else self.worker_urls[0]

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    @property
    def running(self) -> bool:
        return any(process.poll() is None for process in self.processes)

    def log(self, index: int) -> str:
        """What worker ``index`` printed (uvicorn's warnings and errors)."""
        path = self.workdir / f"worker-{index}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, index: int) -> None:
        """``kill -9`` worker ``index``: no clean-up runs, as when a machine dies."""
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait(_STOP_TIMEOUT)

    def stop(self) -> None:
        """Stop nginx and every worker; remove their logs."""
        if self.proxy is not None:
            self.proxy.stop()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _launch(self, env: Mapping[str, str]) -> None:
        port = free_port()
        index = len(self.processes)
        command = [
            sys.executable, "-m", "uvicorn", "labsupport.worker_app:app",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
            "--timeout-graceful-shutdown", "1",
        ]  # fmt: skip
        with (self.workdir / f"worker-{index}.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the kernel is not meant for it
            )
        self.ports.append(port)
        self.processes.append(process)

    def _wait_ready(self, token: str | None) -> None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        for index, url in enumerate(self.worker_urls):
            request = urllib.request.Request(f"{url}/stats")
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=1.0):
                        break
                except (urllib.error.URLError, OSError):
                    if self.processes[index].poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"worker {index} on {url} did not start:\n{self.log(index)}"
                        ) from None
                    time.sleep(0.05)


def start_workers(
    count: int,
    *,
    run_store: str = "memory",
    settings: Mapping[str, Any] | None = None,
    nginx: bool = True,
    name: str = "lab-workers",
) -> Workers:
    """Start ``count`` worker processes (and nginx in front, round-robin); returns their handle."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int of at least 1, got {count!r}")
    fields = dict(settings or {})
    ServerSettings.model_validate({**fields, "run_store": run_store})  # fail here, not in a worker
    env = {
        **os.environ,
        "LAB_RUN_STORE": run_store,
        "LAB_SERVER_SETTINGS": json.dumps(fields),
    }
    workers = Workers(name, Path(tempfile.mkdtemp(prefix="lab-workers-")))
    try:
        for _ in range(count):
            workers._launch(env)
        workers._wait_ready(env.get("LAB_TOKEN"))
        if nginx:
            workers.proxy = start_nginx(workers.worker_urls, gzip=False, buffering=False, name=name)
    except BaseException:
        workers.stop()
        raise
    return workers
