"""Lab servers on this machine that answer without their secret (what ``doctor`` reports).

A server in a notebook kernel lives in another process, so its settings cannot
be read from here; what can be seen is how it answers. This lists the TCP ports
this user listens on (Linux: ``/proc/net/tcp`` and ``tcp6`` name each socket's
owner), asks each for ``GET /stats`` *without* a secret, and keeps the ones that
answer with the lab server's counters: those were started with
``ServerSettings(require_token=False)``, and any user of this machine can use
them. A server that requires its secret answers 401 and is not listed. Where
``/proc`` is missing (macOS), only the default port 8000 is asked.

    >>> open_lab_servers(ports=[])
    []
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["DEFAULT_PORT", "listening_ports", "open_lab_servers"]

DEFAULT_PORT = 8000
"""Where ``uvicorn labsupport.server:app`` listens unless told otherwise."""

_LISTEN = "0A"
# 127.0.0.1, 0.0.0.0, ::1 and :: as /proc/net/tcp{,6} print them.
_REACHABLE = {"0100007F", "00000000", "00000000000000000000000001000000", "0" * 32}
# Fields only the lab server's /stats has together.
_LAB_FIELDS = {"runs_started", "active_runs", "runs_refused", "cancel_requests"}


def listening_ports(proc_net: Path = Path("/proc/net"), uid: int | None = None) -> list[int] | None:
    """The TCP ports this user listens on, reachable over loopback; ``None`` without ``/proc``."""
    owner = os.getuid() if uid is None else uid
    tables = [proc_net / "tcp", proc_net / "tcp6"]
    if not any(table.exists() for table in tables):
        return None
    ports: set[int] = set()
    for table in tables:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 8 or fields[3] != _LISTEN or fields[7] != str(owner):
                continue
            address, _, port = fields[1].partition(":")
            if address in _REACHABLE:
                ports.add(int(port, 16))
    return sorted(ports)


def _answers_openly(port: int, timeout: float) -> bool:
    """Whether ``GET /stats`` without a secret gets the lab server's counters."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/stats", headers={"Host": f"127.0.0.1:{port}"})
        response = connection.getresponse()
        if response.status != 200:
            return False
        body = json.loads(response.read(65536))
    except (OSError, ValueError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return isinstance(body, dict) and body.keys() >= _LAB_FIELDS


def open_lab_servers(ports: Iterable[int] | None = None, *, timeout: float = 0.5) -> list[int]:
    """The ports of lab servers that answer ``/stats`` without a secret.

    ``ports`` defaults to ``listening_ports()`` (or ``[8000]`` without ``/proc``).
    """
    if ports is None:
        found = listening_ports()
        ports = [DEFAULT_PORT] if found is None else found
    return [port for port in ports if _answers_openly(port, timeout)]
