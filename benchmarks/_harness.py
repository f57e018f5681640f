"""What every measurement needs: servers in their own processes, memory samples, percentiles."""

from __future__ import annotations

import json
import math
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from labsupport.lab_url import auth_headers, split_token

__all__ = ["ROOT", "RssSampler", "ServerProcess", "median", "percentile", "servers"]

ROOT = Path(__file__).resolve().parents[1]
_SERVE = Path(__file__).resolve().parent / "_serve.py"
_STARTUP_SECONDS = 30.0


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation; ``percentile([1, 2, 3, 4], 50) -> 2.5``."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


class ServerProcess:
    """One app (see ``_servers.build_app``) served by ``_serve.py`` in a child process."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.kind: str = spec.get("label", spec["kind"])  # two lab servers need two names
        self._proc = subprocess.Popen(
            [sys.executable, str(_SERVE), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        self.pid = self._proc.pid
        self.url = ""  # the base URL; the secret, if the app has one, is in ``headers``
        self.token: str | None = None
        self.headers: dict[str, str] = {}

    def wait_ready(self, timeout: float = _STARTUP_SECONDS) -> ServerProcess:
        assert self._proc.stdout is not None
        # _serve.py prints its URL once it answers; a hung child must not hang the suite.
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"the {self.kind} server did not start within {timeout} s")
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} server process exited before serving")
        # The lab app's URL carries its secret (read from our child's stdout, never argv).
        self.url, self.token = split_token(json.loads(line)["url"])
        self.headers = auth_headers(self.token)
        return self

    def rss(self) -> int:
        """The server process's resident memory, in bytes."""
        return int(psutil.Process(self.pid).memory_info().rss)

    def runs(self) -> list[dict[str, Any]]:
        """What the server's generators recorded (see ``_servers``)."""
        response = httpx.get(self.url + "/bench/runs", headers=self.headers, timeout=10)
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()
        return runs

    def stop(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()  # our own child, by its handle
                self._proc.wait(timeout=5)


@contextmanager
def servers(*specs: dict[str, Any]) -> Iterator[list[ServerProcess]]:
    """Start one process per spec (in parallel), yield them once all serve, stop them after."""
    with ExitStack() as stack:
        procs = []
        for spec in specs:
            proc = ServerProcess(spec)
            stack.callback(proc.stop)
            procs.append(proc)
        deadline = time.monotonic() + _STARTUP_SECONDS
        for proc in procs:
            proc.wait_ready(max(0.1, deadline - time.monotonic()))
        yield procs


class RssSampler:
    """Samples a process's RSS in a thread every ``interval`` seconds; ``peak`` is the highest."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(int(self._process.memory_info().rss))
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max(self.samples)
