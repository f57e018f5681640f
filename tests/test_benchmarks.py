"""The benchmark suite runs end to end at tiny sizes and reports every metric completely.

Speed is not asserted here (that is what the suite itself reports); only that every
metric comes with its absolute figure, its baseline, a ratio, a target and a verdict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

METRICS = {
    "ttfe_p50",
    "throughput",
    "cancel_tokens",
    "cancel_finally",
    "concurrency_complete",
    "concurrency_lateness_p99",
    "concurrency_rss_per_stream",
    "slow_consumer_rss",
    "view_per_event",
    "runstate_apply_token",
    "widget_updates",
    "widget_overhead",
    "notebook_suite",
    "redis_ttfe_p50",
    "redis_throughput",
    "workers_lateness_p99",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_quick_run_reports_every_metric_with_ratio_absolute_target_and_verdict(
    report: tuple[dict[str, Any], str],
) -> None:
    doc, _ = report
    assert doc["quick"] is True
    by_key = {m["key"]: m for m in doc["metrics"]}
    assert set(by_key) == METRICS
    for key, metric in by_key.items():
        assert isinstance(metric["absolute"]["value"], (int, float)), key
        assert metric["absolute"]["unit"], key
        assert isinstance(metric["baseline"]["value"], (int, float)), key
        assert metric["baseline"]["name"], key
        assert "ratio" in metric and (metric["ratio"] is None or metric["ratio"] >= 0), key
        assert metric["target"], key
        assert isinstance(metric["met"], bool), key
        assert metric["better"] in ("lower", "higher"), key
        assert isinstance(metric["gated"], bool), key
        assert metric["gated"] or metric["met"], f"{key}: an ungated figure has nothing to miss"


@pytest.mark.slow
def test_quick_run_measures_what_it_claims(report: tuple[dict[str, Any], str]) -> None:
    doc, _ = report
    by_key = {m["key"]: m for m in doc["metrics"]}
    # Every stream of the load test ran to its done event, on both servers.
    assert by_key["concurrency_complete"]["absolute"]["value"] == doc["sizes"]["streams"]
    assert by_key["concurrency_complete"]["baseline"]["value"] == doc["sizes"]["streams"]
    # Through Redis and through two workers behind nginx, every answer arrived whole.
    redis_rates = by_key["redis_throughput"]["details"]["throughput"]
    assert redis_rates["lab_redis"]["events"] == redis_rates["lab"]["events"]
    storm = by_key["workers_lateness_p99"]["details"]["servers"]["2 workers + redis + nginx"]
    assert storm["completed"] == doc["sizes"]["streams"]
    assert {"worker 0", "worker 1", "redis", "nginx", "client"} <= set(storm["cpu_share"])
    # The throughput runs received the whole answer from all four servers.
    servers = by_key["throughput"]["details"]["servers"]
    counts = {servers[k]["events"] for k in ("lab", "starlette", "fastapi", "sse_starlette")}
    assert len(counts) == 1 and counts.pop() > doc["sizes"]["throughput_tokens"]
    # The live view received every token and finished.
    assert by_key["widget_updates"]["details"]["outcome"] == "finished"
    # The view's cost per event: every event of the answer went through a view that finished.
    view = by_key["view_per_event"]["details"]
    assert view["events"] > doc["sizes"]["view_tokens"] and view["redraws"] >= 2
    # Its target replaced the overhead against an unpaced mock, now information only.
    assert by_key["widget_overhead"]["gated"] is False
    assert by_key["view_per_event"]["gated"] and by_key["runstate_apply_token"]["gated"]
    assert by_key["notebook_suite"]["details"]["notebooks"] == 1  # --quick: one notebook
    ratio = by_key["throughput"]["ratio"]
    assert ratio == pytest.approx(
        by_key["throughput"]["absolute"]["value"] / by_key["throughput"]["baseline"]["value"]
    )


@pytest.mark.slow
def test_quick_run_prints_a_table_with_a_row_per_metric(
    report: tuple[dict[str, Any], str],
) -> None:
    doc, stdout = report
    lines = stdout.splitlines()
    assert lines[0].split()[:2] == ["metric", "lab"]
    gated = sum(1 for metric in doc["metrics"] if metric["gated"])
    assert gated == len(METRICS) - 1 and f"of {gated} targets met" in stdout
    for metric in doc["metrics"]:
        assert any(line.startswith(metric["title"]) for line in lines), metric["title"]
