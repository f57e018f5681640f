"""Runs kept in Redis (lesson 8) against runs kept in the process: what the shared store costs.

Three figures, each beside its baseline in the same run:

- first event and throughput of one lab server whose runs go through a real
  ``redis-server`` (``run_store=redis://...``) against the same lab server with
  the in-process store, interleaved request by request (``_wire``);
- 1,000 paced streams through nginx to two lab worker processes sharing Redis,
  against the single-process bare Starlette baseline (``_load.storm``), with the
  CPU each process used: on a 2-core machine that also runs the client, the
  split says where the time went and what more cores would buy.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _load
import _wire
import psutil
from _harness import ServerProcess, servers

from labsupport.auth import TOKEN_ENV, new_token
from labsupport.nginx import start_nginx
from labsupport.redis_server import RedisServer, start_redis

__all__ = ["first_event_and_throughput", "workers_storm"]


@contextmanager
def redis() -> Iterator[RedisServer]:
    server = start_redis("benchmarks")
    try:
        yield server
    finally:
        server.stop()


def first_event_and_throughput(
    ttfe_rounds: int, tokens: int, rounds: int, stream_tokens: int
) -> dict[str, Any]:
    """``_wire`` figures for the lab with its runs in memory (``lab``) and in Redis (``lab_redis``)."""
    with redis() as store:
        specs = [
            {"kind": "lab", "label": "lab", "answer_tokens": stream_tokens},
            {
                "kind": "lab",
                "label": "lab_redis",
                "answer_tokens": stream_tokens,
                "run_store": store.url,
            },
        ]
        with servers(*specs) as procs:
            first = _wire.first_event(procs, ttfe_rounds)
        for spec in specs:
            spec["answer_tokens"] = tokens
        with servers(*specs) as procs, _cpu([*procs], store.pid) as cpu:
            rates = _wire.throughput(procs, rounds)
    return {"first_event": first, "throughput": rates, "cpu_s": cpu}


@contextmanager
def _cpu(procs: Sequence[ServerProcess], *pids: int | None) -> Iterator[dict[str, float]]:
    """CPU seconds each process (and this client) used inside the block."""
    watched = {p.kind: psutil.Process(p.pid) for p in procs}
    for pid in pids:
        if pid is not None:
            watched[f"pid {pid}"] = psutil.Process(pid)
    watched["client"] = psutil.Process()

    def total(process: psutil.Process) -> float:
        # nginx's worker is its master's child; the servers, this client's, are counted apart.
        family = [process] if process.pid == os.getpid() else [process, *process.children()]
        return sum(float(p.cpu_times().user + p.cpu_times().system) for p in family)

    before = {name: total(process) for name, process in watched.items()}
    result: dict[str, float] = {}
    yield result
    result.update({name: total(p) - before[name] for name, p in watched.items()})


def _pid_in(path: Path, timeout: float = 5.0) -> int:
    """The pid nginx wrote to ``path``: the file may exist a moment before its number does."""
    deadline = time.monotonic() + timeout
    while not (text := path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not text:
        raise RuntimeError(f"nginx wrote no pid to {path} within {timeout:g} s")
    return int(text)


@contextmanager
def shared_secret() -> Iterator[None]:
    """One secret in ``$LAB_TOKEN`` for the servers started inside: workers behind one nginx."""
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = new_token()
    try:
        yield
    finally:
        if before is None:
            del os.environ[TOKEN_ENV]
        else:
            os.environ[TOKEN_ENV] = before


def workers_storm(
    workers: int, streams: int, rate: float, answer_tokens: int, ramp: float
) -> dict[str, Any]:
    """``streams`` paced streams through nginx to ``workers`` lab processes sharing Redis."""
    with redis() as store:
        spec = {
            "kind": "lab",
            "answer_tokens": answer_tokens,
            "tokens_per_second": rate,
            "run_store": store.url,
        }
        labelled = [{**spec, "label": f"worker {i}"} for i in range(workers)]
        with shared_secret(), servers(*labelled) as procs:
            proxy = start_nginx(
                [p.url for p in procs], gzip=False, buffering=False, name="benchmarks"
            )
            try:
                nginx_pid = _pid_in(proxy.workdir / "nginx.pid")
                started = time.perf_counter()
                with _cpu(procs, store.pid, nginx_pid) as cpu:
                    result = asyncio.run(
                        _load.storm(proxy.url, procs[0].headers, streams, ramp, rate)
                    )
                wall = time.perf_counter() - started
            finally:
                proxy.stop()
    names = {f"pid {store.pid}": "redis", f"pid {nginx_pid}": "nginx"}
    shares = {names.get(name, name): seconds / wall for name, seconds in cpu.items()}
    result.update({"workers": workers, "wall_s": wall, "cpu_share": shares})
    return result
