"""The live view in a real Jupyter kernel, and the whole nbval run.

Widget view: a real ipykernel (started with jupyter_client) runs the same unpaced
answer twice per round: once consumed by a bare ``async for`` (the generation
time), once through ``labsupport.view.watch`` (generation plus rendering, until
``await view`` returns with the final frame drawn). The difference is the render
overhead, in wall time and in the kernel's CPU time (``time.process_time``, which
includes the thread that sends the comm messages and is less sensitive to other
processes on the machine). Updates are the view's redraws, timed in the kernel:
the figure is the most redraws any one-second window held, over the unpaced runs
and a two-second paced flood (a run shorter than a second cannot show the cap).
The comm messages the kernel sent on iopub are counted beside them (what
jupyter_server forwards; it drops a kernel's output above 1000/s). The browser's
own painting is not included: the kernel's side is what slows the stream; the
browser test in tests/browser covers the page.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from _harness import ROOT, median
from jupyter_client.manager import start_new_kernel

__all__ = ["notebook_suite", "widget_view"]

_SETUP = """
import gc, json, time
from labsupport.agent import achat_stream
from labsupport.longanswer import LongAnswerLLM
from labsupport.view import LiveView

class _Timed(LiveView):
    def _redraw(self):
        if self._loop is not None:
            self.frames.append(self._loop.time())
        super()._redraw()

class _GcClock:
    def __init__(self):
        self.seconds, self.full, self._t = 0.0, 0, 0.0
        gc.callbacks.append(self)
    def __call__(self, phase, info):
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t
            self.full += info["generation"] == 2
    def read(self):
        seconds, full, self.seconds, self.full = self.seconds, self.full, 0.0, 0
        return seconds, full

_gc = _GcClock()

def _busiest(times, window=1.0):
    return max((sum(1 for t in times if s <= t < s + window) for s in times), default=0)

async def _bare(n):
    llm = LongAnswerLLM.instant(answer_tokens=n)
    _gc.read()
    start, cpu = time.perf_counter(), time.process_time()
    async for _ in achat_stream("Tell me everything", llm=llm):
        pass
    return time.perf_counter() - start, time.process_time() - cpu, *_gc.read()

async def _viewed(n, rate=None):
    if rate is None:
        llm = LongAnswerLLM.instant(answer_tokens=n)
    else:
        llm = LongAnswerLLM(answer_tokens=n, ttft=0.0, tokens_per_second=rate, tool_delay=0.0)
    _gc.read()
    start, cpu = time.perf_counter(), time.process_time()
    view = _Timed(title="flood")
    view.frames = []
    built = time.perf_counter() - start
    view.start(achat_stream("Tell me everything", llm=llm))
    state = await view
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    gc_seconds, gc_full = _gc.read()
    frames = view.frames
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    return {
        "seconds": seconds, "cpu": cpu, "build": built, "redraws": view.redraws,
        "frames": len(frames), "busiest": _busiest(frames),
        "min_gap": min(gaps[:-1], default=None), "final_gap": gaps[-1] if gaps else None,
        "outcome": state.outcome, "tokens": state.token_count,
        "gc": gc_seconds, "gc_full": gc_full,
    }
"""


def _run(kc: Any, code: str, timeout: float = 120) -> tuple[str, int]:
    """Execute ``code``; return its stdout and how many comm messages it caused on iopub."""
    out: list[str] = []
    comm = 0

    def hook(msg: dict[str, Any]) -> None:
        nonlocal comm
        kind = msg["msg_type"]
        if kind == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        elif kind in ("comm_msg", "comm_open"):
            comm += 1
        elif kind == "error":
            out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"kernel cell failed: {''.join(out)}")
    return "".join(out), comm


def _viewed(kc: Any, tokens: int, rate: float | None = None) -> tuple[dict[str, Any], int]:
    out, comm = _run(kc, f"print(json.dumps(await _viewed({tokens}, {rate!r})))")
    run: dict[str, Any] = json.loads(out)
    if run["tokens"] != tokens or run["outcome"] != "finished":
        raise RuntimeError(f"the view ended {run['outcome']} with {run['tokens']} of {tokens}")
    return run, comm


def widget_view(tokens: int, rounds: int, flood_seconds: float) -> dict[str, Any]:
    """Generation alone versus generation through the live view, ``rounds`` interleaved
    pairs; then one paced flood lasting ``flood_seconds`` for the redraw cap."""
    # The kernel's stderr (a warning about TCP on loopback) would only clutter the table.
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT), stderr=subprocess.DEVNULL)
    try:
        _run(kc, _SETUP)
        _run(kc, "await _bare(500); _ = await _viewed(500)")  # warm-up: imports, first widgets
        bare: list[list[float]] = []
        viewed: list[dict[str, Any]] = []
        comms: list[int] = []
        for _ in range(rounds):
            out, _ = _run(kc, f"print(json.dumps(await _bare({tokens})))")
            bare.append(json.loads(out))
            run, comm = _viewed(kc, tokens)
            viewed.append(run)
            comms.append(comm)
        rate = 10_000
        flood, flood_comm = _viewed(kc, int(rate * flood_seconds), rate)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    gen, gen_cpu = median([b[0] for b in bare]), median([b[1] for b in bare])
    shown, shown_cpu = median([v["seconds"] for v in viewed]), median([v["cpu"] for v in viewed])
    gaps = [v["min_gap"] for v in [*viewed, flood] if v["min_gap"] is not None]
    return {
        "tokens": tokens,
        "rounds": rounds,
        "outcome": viewed[-1]["outcome"],
        "generation_s": gen,
        "viewed_s": shown,
        "overhead_share": shown / gen - 1,
        "generation_cpu_s": gen_cpu,
        "viewed_cpu_s": shown_cpu,
        "overhead_share_cpu": shown_cpu / gen_cpu - 1,
        "build_s": median([v["build"] for v in viewed]),
        "generation_min_s": min(b[0] for b in bare),
        "viewed_min_s": min(v["seconds"] for v in viewed),
        "gc_s": median([v["gc"] for v in viewed]),
        "gc_full_collections": sum(v["gc_full"] for v in viewed),
        "gc_bare_s": median([b[2] for b in bare]),
        "overhead_per_event_us": (shown_cpu - gen_cpu) / (tokens + 8) * 1e6,
        "redraws": median([v["redraws"] for v in viewed]),
        "busiest_second": max(v["busiest"] for v in [*viewed, flood]),
        "min_gap_ms": min(gaps) * 1000 if gaps else None,
        "comm_msgs": median(comms),
        "comm_msgs_per_s": median([c / v["seconds"] for c, v in zip(comms, viewed, strict=True)]),
        "tokens_per_s": tokens / gen,
        "flood": {
            "tokens": int(rate * flood_seconds),
            "tokens_per_s": rate,
            "seconds": flood["seconds"],
            "redraws": flood["redraws"],
            "busiest_second": flood["busiest"],
            "min_gap_ms": flood["min_gap"] * 1000 if flood["min_gap"] is not None else None,
            "final_gap_ms": flood["final_gap"] * 1000 if flood["final_gap"] is not None else None,
            "comm_msgs_per_s": flood_comm / flood["seconds"],
        },
    }


_NBVAL = [
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "--nbval",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "tests/nbval_sanitize.cfg",
    "--nbval-cell-timeout",
    "120",
]


_DURATION = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+\.ipynb)::")


def _nbval(paths: list[str], *extra: str) -> dict[str, Any]:
    """One nbval run: wall time, CPU time of pytest and its kernels, and seconds per notebook."""
    start = time.perf_counter()
    cpu = _children_cpu()
    proc = subprocess.run(
        [sys.executable, *_NBVAL, "--durations=0", *extra, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - start
    per_notebook: dict[str, float] = {}
    for line in proc.stdout.splitlines():
        if match := _DURATION.match(line.strip()):
            name = match.group(2)
            per_notebook[name] = per_notebook.get(name, 0.0) + float(match.group(1))
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    return {
        "seconds": seconds,
        "cpu_s": _children_cpu() - cpu,
        "passed": proc.returncode == 0,
        "summary": summary,
        "per_notebook_s": dict(sorted(per_notebook.items(), key=lambda kv: -kv[1])),
    }


def _children_cpu() -> float:
    """User plus system CPU seconds of every finished child process (kernels included)."""
    try:
        import resource  # POSIX only
    except ImportError:
        return math.nan
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def notebook_suite(quick: bool) -> dict[str, Any]:
    """The nbval run over notebooks/ and solution/ (the command ``kit.py test`` uses), beside
    its floor: the same number of one-cell notebooks (pytest start, one kernel per notebook).
    With pytest-xdist installed, the same run on 4 workers, one notebook per worker at a time."""
    lessons = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    lessons += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "solution").glob("*.ipynb"))
    if quick:
        lessons = lessons[:1]
    with tempfile.TemporaryDirectory() as tmp:
        trivial = []
        for i in range(len(lessons)):
            path = Path(tmp) / f"trivial_{i:02d}.ipynb"
            nb = nbformat.v4.new_notebook()
            cell = nbformat.v4.new_code_cell("print('ok')", execution_count=1)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
            nb.cells = [cell]
            nbformat.write(nb, path)
            trivial.append(str(path))
        floor = _nbval(trivial)
    run = _nbval(lessons)
    result = {
        "notebooks": len(lessons),
        "seconds": run["seconds"],
        "cpu_s": run["cpu_s"],
        "passed": run["passed"],
        "summary": run["summary"],
        "per_notebook_s": run["per_notebook_s"],
        "floor_s": floor["seconds"],
        "floor_cpu_s": floor["cpu_s"],
        "floor_passed": floor["passed"],
        "scope": "the first notebook only (--quick)" if quick else "notebooks/ and solution/",
    }
    if importlib.util.find_spec("xdist") is not None and not quick:
        parallel = _nbval(lessons, "-n", "4", "--dist", "loadfile")
        result["parallel"] = {
            "workers": 4,
            "seconds": parallel["seconds"],
            "cpu_s": parallel["cpu_s"],
            "passed": parallel["passed"],
            "summary": parallel["summary"],
        }
    return result
