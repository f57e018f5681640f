"""``python -m labsupport.demo`` shows its three sections."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from labsupport.demo import run_demo


def test_demo_shows_the_three_sections() -> None:
    out = io.StringIO()
    run_demo(fast=True, out=out)
    text = out.getvalue()
    one, two, three = text.split("\n==== ")[1:]
    assert one.startswith("1. STREAMED RESPONSE")
    assert (
        one.index("· searching the knowledge base")
        < one.index("Dana Okafor")
        < one.index("cost: $")
    )
    raw = [json.loads(line) for line in two.splitlines()[1:] if line]
    assert raw[0]["type"] == "status" and raw[-1]["type"] == "done"
    assert three.startswith("3. CANCELLATION")
    assert "The Payments team\n  ■ stopped after 3 tokens" in three
    assert "3 tokens generated" in three
    assert "cost event: never, done event: never" in three
    assert "  cost:" not in three


def test_demo_runs_as_a_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "labsupport.demo", "--fast", "Who leads the platform team?"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "Marcus Lindqvist leads the Platform team." in proc.stdout
    assert proc.stdout.count("==== ") == 3
    assert proc.stderr == ""
