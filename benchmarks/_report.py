"""One metric as the suite reports it, the table on stdout, and the JSON document."""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Metric", "document", "machine", "table"]


@dataclass
class Metric:
    """A figure of the lab beside its baseline from the same run, and whether it meets its target.

    ``ratio`` is ``value / baseline_value`` (``None`` when the baseline is zero);
    ``better`` says which direction is good. A metric that is not ``gated`` is shown for
    information: it has no target to miss (``met`` is always true).
    """

    key: str
    title: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float
    target: str
    met: bool
    better: str = "lower"
    gated: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value or math.isnan(self.baseline_value):
            return None
        return self.value / self.baseline_value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        details = data.pop("details")
        data["absolute"] = {"value": data.pop("value"), "unit": data.pop("unit")}
        data["baseline"] = {
            "name": data.pop("baseline_name"),
            "value": data.pop("baseline_value"),
            "unit": self.unit,
        }
        data["ratio"] = self.ratio
        data["details"] = _clean(details)
        return _clean(data)


def _clean(value: Any) -> Any:
    """JSON has no NaN: missing figures become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def document(
    metrics: list[Metric], *, quick: bool, sizes: dict[str, Any], started: float
) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "sizes": sizes,
        "metrics": [m.to_dict() for m in metrics],
    }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(metrics: list[Metric]) -> str:
    rows = [("metric", "lab", "baseline", "ratio", "target", "met")]
    for m in metrics:
        ratio = m.ratio
        rows.append(
            (
                m.title,
                _fmt(m.value, m.unit),
                f"{_fmt(m.baseline_value, m.unit)} ({m.baseline_name})",
                "n/a" if ratio is None else f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.1g}x",
                m.target,
                "-" if not m.gated else "yes" if m.met else "NO",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
