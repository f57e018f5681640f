"""The live view in a real Jupyter kernel, and the whole nbval run.

Widget view: a real ipykernel (started with jupyter_client) runs the same unpaced
answer twice per round: once consumed by a bare ``async for`` (the generation
time), once through ``labsupport.view.watch`` (generation plus rendering). The
difference is the render overhead. Updates/s are the view's redraws per second,
and the comm messages the kernel sent on iopub are counted beside them (what
jupyter_server would have to forward; it drops a kernel's output above 1000/s).
The browser's own painting is not included: the kernel's side is what slows the
stream; the browser test in tests/browser covers the page.
"""

from __future__ import annotations

import json
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
import json, time
from labsupport.agent import achat_stream
from labsupport.longanswer import LongAnswerLLM
from labsupport.view import watch

async def _bare(n):
    llm = LongAnswerLLM.instant(answer_tokens=n)
    start = time.perf_counter()
    async for _ in achat_stream("Tell me everything", llm=llm):
        pass
    return time.perf_counter() - start

async def _viewed(n):
    llm = LongAnswerLLM.instant(answer_tokens=n)
    start = time.perf_counter()
    view = watch(achat_stream("Tell me everything", llm=llm), title="flood")
    state = await view
    seconds = time.perf_counter() - start
    return seconds, view.redraws, state.outcome, state.token_count
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


def widget_view(tokens: int, rounds: int) -> dict[str, Any]:
    """Generation alone versus generation through the live view, ``rounds`` interleaved pairs."""
    # The kernel's stderr (a warning about TCP on loopback) would only clutter the table.
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT), stderr=subprocess.DEVNULL)
    try:
        _run(kc, _SETUP)
        _run(kc, "await _bare(500); _ = await _viewed(500)")  # warm-up: imports, first widgets
        bare: list[float] = []
        viewed: list[float] = []
        rates: list[float] = []
        comm_rates: list[float] = []
        outcome = ""
        for _ in range(rounds):
            out, _ = _run(kc, f"print(await _bare({tokens}))")
            bare.append(float(out))
            out, comm = _run(kc, f"print(json.dumps(await _viewed({tokens})))")
            seconds, redraws, outcome, received = json.loads(out)
            if received != tokens:
                raise RuntimeError(f"the view received {received} of {tokens} tokens")
            viewed.append(seconds)
            rates.append(redraws / seconds)
            comm_rates.append(comm / seconds)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    gen, shown = median(bare), median(viewed)
    return {
        "tokens": tokens,
        "rounds": rounds,
        "outcome": outcome,
        "generation_s": gen,
        "viewed_s": shown,
        "overhead_share": shown / gen - 1,
        "updates_per_s": median(rates),
        "comm_msgs_per_s": median(comm_rates),
        "tokens_per_s": tokens / gen,
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


def _nbval(paths: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *_NBVAL, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - start, proc.returncode, summary


def notebook_suite(quick: bool) -> dict[str, Any]:
    """The nbval run over notebooks/ and solution/, beside its floor: the same number of
    one-cell notebooks (pytest start, one kernel per notebook)."""
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
        floor, floor_code, _ = _nbval(trivial)
    seconds, code, summary = _nbval(lessons)
    return {
        "notebooks": len(lessons),
        "seconds": seconds,
        "passed": code == 0,
        "summary": summary,
        "floor_s": floor,
        "floor_passed": floor_code == 0,
        "scope": "the first notebook only (--quick)" if quick else "notebooks/ and solution/",
    }
