"""One stream at a time over a real socket: first event, throughput, cancellation.

The client is httpx reading raw bytes and counting SSE blocks (a blank line ends
each one). Parsing every event into a pydantic model would make the client, not
the server, the bottleneck, and every ratio would drift towards 1; the figure a
Python consumer sees with ``labsupport.client.stream_events`` is reported beside.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from typing import Any

import httpx
from _harness import ServerProcess, median, percentile
from _servers import QUESTION

from labsupport.client import stream_events

__all__ = ["cancellation", "first_event", "nodelay_client", "throughput"]

_HEADERS = {"Accept": "text/event-stream"}
_BODY = {"message": QUESTION}
_TOKEN_BLOCK = b"event: token\n"
# httpx writes a POST's headers and body in two sends; with Nagle's algorithm on, the
# body waits for the server's delayed ACK (40 ms on Linux) now and then. Browsers
# disable Nagle, and so do we, or p90 would measure TCP, not the server.
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def nodelay_client(timeout: float = 30) -> httpx.Client:
    """An httpx client that sends requests at once (Nagle off), as browsers do."""
    return httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(socket_options=_NODELAY))


class _Blocks:
    """Counts complete SSE blocks (and token blocks) in a byte stream cut anywhere."""

    def __init__(self) -> None:
        self.blocks = 0
        self.tokens = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> int:
        data = self._tail + chunk
        *complete, self._tail = data.split(b"\n\n")
        self.blocks += len(complete)
        self.tokens += sum(1 for block in complete if block.startswith(_TOKEN_BLOCK))
        return len(complete)


def _time_to_first_event(client: httpx.Client, proc: ServerProcess) -> float:
    blocks = _Blocks()
    first = 0.0
    start = time.perf_counter()
    url, headers = proc.url, {**_HEADERS, **proc.headers}
    with client.stream("POST", url + "/chat/stream", json=_BODY, headers=headers) as response:
        for chunk in response.iter_raw():
            if blocks.feed(chunk) and not first:
                first = time.perf_counter() - start
    if not first:
        raise RuntimeError(f"{url} sent no complete event")
    return first


def first_event(procs: Sequence[ServerProcess], rounds: int, warmup: int = 5) -> dict[str, Any]:
    """Request sent to first complete SSE block received, p50/p90 per server, in ms.

    Requests go round-robin over the servers, so a noisy moment on the machine
    hits every server alike. Each server keeps one keep-alive connection, so the
    figure is the server's own latency, not TCP's handshake.
    """
    samples: dict[str, list[float]] = {p.kind: [] for p in procs}
    clients = {p.kind: nodelay_client() for p in procs}
    try:
        for i in range(warmup + rounds):
            order = list(procs[i % len(procs) :]) + list(procs[: i % len(procs)])
            for proc in order:
                seconds = _time_to_first_event(clients[proc.kind], proc)
                if i >= warmup:
                    samples[proc.kind].append(seconds * 1000)
    finally:
        for http in clients.values():
            http.close()
    return {
        kind: {"p50_ms": median(ms), "p90_ms": percentile(ms, 90), "n": len(ms)}
        for kind, ms in samples.items()
    }


def _events_per_second(client: httpx.Client, proc: ServerProcess) -> tuple[float, int]:
    blocks = _Blocks()
    start = time.perf_counter()
    url, headers = proc.url, {**_HEADERS, **proc.headers}
    with client.stream("POST", url + "/chat/stream", json=_BODY, headers=headers) as response:
        for chunk in response.iter_raw():
            blocks.feed(chunk)
    elapsed = time.perf_counter() - start
    return blocks.blocks / elapsed, blocks.blocks


def throughput(procs: Sequence[ServerProcess], rounds: int) -> dict[str, Any]:
    """Events per second of one long unpaced answer, median of ``rounds`` interleaved runs."""
    rates: dict[str, list[float]] = {p.kind: [] for p in procs}
    events: dict[str, int] = {}
    with nodelay_client(60) as http:
        for proc in procs:  # warm-up: imports, first-request caches
            _events_per_second(http, proc)
        for i in range(rounds):
            order = list(procs[i % len(procs) :]) + list(procs[: i % len(procs)])
            for proc in order:
                rate, count = _events_per_second(http, proc)
                rates[proc.kind].append(rate)
                events[proc.kind] = count
    result: dict[str, Any] = {
        kind: {"events_per_s": median(r), "runs": [round(x) for x in r], "events": events[kind]}
        for kind, r in rates.items()
    }
    lab = next(p for p in procs if p.kind == "lab")
    start = time.perf_counter()
    decoded = sum(1 for _ in stream_events(lab.url, QUESTION, token=lab.token))
    result["lab_decoded"] = {
        "events_per_s": decoded / (time.perf_counter() - start),
        "events": decoded,
    }
    return result


def _cancel_once(proc: ServerProcess, after_tokens: int) -> dict[str, float]:
    """Read ``after_tokens`` tokens, hang up, and ask the server what happened after."""
    before = len(proc.runs())
    blocks = _Blocks()
    with (
        nodelay_client() as http,
        http.stream(
            "POST", proc.url + "/chat/stream", json=_BODY, headers={**_HEADERS, **proc.headers}
        ) as response,
    ):
        for chunk in response.iter_raw():
            blocks.feed(chunk)
            if blocks.tokens >= after_tokens:
                # Taken just before the socket closes (leaving both blocks), so the delay
                # measured errs long. CLOCK_MONOTONIC is shared by both processes.
                closed_at = time.monotonic()
                break
        else:
            raise RuntimeError(f"the stream ended before {after_tokens} tokens")
    deadline = closed_at + 5
    while True:
        runs = proc.runs()
        if len(runs) > before or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if len(runs) <= before:
        return {"received": blocks.tokens, "tokens_after": float("nan"), "finally_ms": 5000.0}
    run = runs[-1]
    return {
        "received": blocks.tokens,
        "tokens_after": max(0, run["tokens"] - blocks.tokens),
        "finally_ms": (run["finally_at"] - closed_at) * 1000,
    }


def cancellation(procs: Sequence[ServerProcess], rounds: int, after_tokens: int) -> dict[str, Any]:
    """Tokens made after the client hung up, and how long until the generator's finally ran."""
    trials: dict[str, list[dict[str, float]]] = {p.kind: [] for p in procs}
    for _ in range(rounds):
        for proc in procs:
            trials[proc.kind].append(_cancel_once(proc, after_tokens))
    return {
        kind: {
            "tokens_after_max": max(t["tokens_after"] for t in runs),
            "finally_p50_ms": median([t["finally_ms"] for t in runs]),
            "finally_max_ms": max(t["finally_ms"] for t in runs),
            "n": len(runs),
        }
        for kind, runs in trials.items()
    }
