"""Servers the tests start as child processes: wait until one answers, stop it for sure."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping

import httpx


def wait_until_answering(
    process: subprocess.Popen[bytes],
    url: str,
    *,
    what: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    interval: float = 0.1,
) -> None:
    """Return once ``GET url`` answers with a success; fail, naming ``what``, if it never does.

    It fails as soon as the process exits, or once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, headers=headers, timeout=1.0).raise_for_status()
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(interval)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Ask the process to exit (SIGTERM); kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
