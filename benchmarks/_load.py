"""Many streams at once, and one client that reads far too slowly.

Concurrency: ``streams`` clients ask at once (opened over ``ramp`` seconds, so
every stream is open at the same time for a while), each for a 50-token answer
paced at 20 tokens/s. A token's *lateness* is its arrival minus its scheduled
time, the schedule starting when the stream's first event arrived: token ``i``
is due ``i / rate`` seconds after it. The client is one asyncio process with
httpx; its own CPU use is reported, since a saturated client makes every token
look late.

Slow consumer: a raw socket that reads ``rate`` bytes a second, 100 times fewer
than the server produces unpaced. httpx cannot read slowly (it takes 64 KB off
the socket per read), hence the socket. A server with backpressure stops
producing once the socket buffers are full; one without keeps the answer in
memory and grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from _harness import RssSampler, ServerProcess, percentile
from _servers import QUESTION

__all__ = ["concurrency", "slow_consumer", "storm"]

_HEADERS = {"Accept": "text/event-stream"}
_TOKEN_BLOCK = b"event: token\n"
_PER_POOL = 100  # streams per httpx client in a storm


async def _one_stream(
    http: httpx.AsyncClient, url: str, delay: float, rate: float, open_now: list[int]
) -> dict[str, Any]:
    # The server's secret travels as the client's default header (see _storm).
    await asyncio.sleep(delay)
    gap = 1.0 / rate
    lateness: list[float] = []
    first: float | None = None
    tail = b""
    tokens = 0
    done = False
    ended = ""  # an error event's block, if the stream ended with one
    sent = time.perf_counter()
    async with http.stream(
        "POST", url + "/chat/stream", json={"message": QUESTION}, headers=_HEADERS
    ) as response:
        if response.status_code != 200:
            body = (await response.aread()).decode(errors="replace")
            return {"status": response.status_code, "answer": body[:200]}
        open_now[0] += 1
        open_now[1] = max(open_now[1], open_now[0])
        try:
            async for chunk in response.aiter_raw():
                now = time.perf_counter()
                *blocks, tail = (tail + chunk).split(b"\n\n")
                for block in blocks:
                    if first is None:
                        first = now
                    if block.startswith(_TOKEN_BLOCK):
                        lateness.append(now - (first + tokens * gap))
                        tokens += 1
                    elif block.startswith(b"event: done"):
                        done = True
                    elif block.startswith(b"event: error"):
                        ended = block.decode(errors="replace")
        finally:
            open_now[0] -= 1
    return {
        "status": 200,
        "done": done,
        "ended": ended,
        "tokens": tokens,
        "lateness": lateness,
        "first_event": (first or time.perf_counter()) - sent,
    }


async def storm(
    url: str, headers: dict[str, str], streams: int, ramp: float, rate: float
) -> dict[str, Any]:
    """Open ``streams`` paced streams to ``url`` over ``ramp`` seconds; completion and lateness."""
    # httpx's pool goes over all its connections each time a request is placed or a
    # connection closes, so one pool of 1,000 costs O(n^2); pools of _PER_POOL do not.
    pools = -(-streams // _PER_POOL)
    limits = httpx.Limits(max_connections=_PER_POOL + 10, max_keepalive_connections=0)
    open_now = [0, 0]  # open right now, most open at once
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(limits=limits, timeout=60, headers=headers)
            )
            for _ in range(pools)
        ]
        tasks = [
            asyncio.create_task(
                _one_stream(clients[i % pools], url, ramp * i / streams, rate, open_now)
            )
            for i in range(streams)
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    answered = [r for r in results if isinstance(r, dict)]
    ok = [r for r in answered if r["status"] == 200]
    refused = [r for r in answered if r["status"] != 200]
    errors = [r["ended"] for r in ok if r["ended"]]
    failures = [repr(r) for r in results if not isinstance(r, dict)]
    lateness = [x for r in ok for x in r["lateness"]]
    return {
        "completed": sum(1 for r in ok if r["done"]),
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        # Not 200 (429 when the server is full, 502/504 from a proxy), by status.
        "refused": {
            str(s): sum(1 for r in refused if r["status"] == s)
            for s in {r["status"] for r in refused}
        },
        "first_refusal": refused[0]["answer"] if refused else None,
        "ended_with_error": len(errors),
        "first_error": errors[0] if errors else None,
        "cut_short": sum(1 for r in ok if not r["done"] and not r["ended"]),
        "most_open_at_once": open_now[1],
        "lateness_p50_ms": percentile(lateness, 50) * 1000 if lateness else float("nan"),
        "lateness_p99_ms": percentile(lateness, 99) * 1000 if lateness else float("nan"),
        "lateness_max_ms": max(lateness) * 1000 if lateness else float("nan"),
        "first_event_p99_ms": percentile([r["first_event"] for r in ok], 99) * 1000
        if ok
        else float("nan"),
    }


def concurrency(
    proc: ServerProcess, streams: int, rate: float, answer_tokens: int, ramp: float = 1.0
) -> dict[str, Any]:
    """Run the storm against one server; RSS per stream is its peak growth over idle."""
    client = psutil.Process()
    server = psutil.Process(proc.pid)
    idle = proc.rss()
    client.cpu_times()
    cpu_client, cpu_server = client.cpu_times(), server.cpu_times()
    start = time.perf_counter()
    with RssSampler(proc.pid) as rss:
        result = asyncio.run(storm(proc.url, proc.headers, streams, ramp, rate))
    wall = time.perf_counter() - start
    c2, s2 = client.cpu_times(), server.cpu_times()
    result.update(
        {
            "streams": streams,
            "answer_tokens": answer_tokens,
            "wall_s": wall,
            "rss_idle_mb": idle / 2**20,
            "rss_peak_mb": rss.peak / 2**20,
            "rss_per_stream_kb": max(0, rss.peak - idle) / streams / 1024,
            "client_cpu_share": (c2.user + c2.system - cpu_client.user - cpu_client.system) / wall,
            "server_cpu_share": (s2.user + s2.system - cpu_server.user - cpu_server.system) / wall,
        }
    )
    return result


def _request(url: str, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    body = json.dumps({"message": QUESTION}).encode()
    head = (
        f"POST /chat/stream HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, head + body


def slow_consumer(proc: ServerProcess, bytes_per_second: float, seconds: float) -> dict[str, Any]:
    """Read ``bytes_per_second`` for ``seconds``; report server RSS growth and tokens made.

    A first, shorter run warms the server up: the mock tokenizes its whole answer
    per request (a few MB for a long answer), and Python keeps that memory for the
    next request. Counting it would blame buffering for the mock's own working set.
    """
    _slow_read(proc, bytes_per_second, min(1.0, seconds))
    return _slow_read(proc, bytes_per_second, seconds)


def _slow_read(proc: ServerProcess, bytes_per_second: float, seconds: float) -> dict[str, Any]:
    host, port, request = _request(proc.url, proc.headers)
    runs_before = len(proc.runs())
    idle = proc.rss()
    step = 0.05
    received = b""
    with RssSampler(proc.pid, interval=0.1) as rss:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(request)
            start = time.monotonic()
            deadline = start + seconds
            budget = 0.0
            while time.monotonic() < deadline:
                time.sleep(step)
                budget += bytes_per_second * step
                while budget >= 1:
                    chunk = sock.recv(int(budget))
                    if not chunk:
                        break
                    budget -= len(chunk)
                    received += chunk
        # The socket is closed: the server notices and ends the run; wait for its record.
        end = time.monotonic() + 5
        runs = proc.runs()
        while len(runs) <= runs_before and time.monotonic() < end:
            time.sleep(0.05)
            runs = proc.runs()
    made = runs[-1]["tokens"] if len(runs) > runs_before else None
    return {
        "seconds": seconds,
        "read_bytes_per_s": bytes_per_second,
        "tokens_read": received.count(_TOKEN_BLOCK),
        "tokens_made": made,
        "rss_idle_mb": idle / 2**20,
        "rss_peak_mb": rss.peak / 2**20,
        "rss_growth_mb": max(0, rss.peak - idle) / 2**20,
    }
