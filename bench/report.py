"""Figures and the table every benchmark prints: figure, target, measured, ratio, pass/fail."""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass

# "at least" targets pass when measured >= target; "at most" when measured <= target; "info" always.
CHECKS = {">=": operator.ge, "<=": operator.le}


@dataclass
class Figure:
    bench: str
    name: str
    measured: float | None
    unit: str = ""
    target: float | None = None
    check: str = "info"  # ">=", "<=" or "info" (reported, no target)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """measured / target for ">=" (≥ 1 passes), target / measured for "<=" (≥ 1 passes)."""
        if self.target is None or self.measured is None or self.check == "info":
            return None
        if self.check == ">=":
            return self.measured / self.target if self.target else None
        return self.target / self.measured if self.measured else float("inf")

    @property
    def verdict(self) -> str:
        if self.check == "info" or self.target is None:
            return "info"
        if self.measured is None:
            return "FAIL"
        return "pass" if CHECKS[self.check](self.measured, self.target) else "FAIL"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def table(figures: list[Figure]) -> str:
    """A Markdown table (it goes into docs/performance.md as it is, between its bench-table markers)."""
    rows = ["| Benchmark | Figure | Target | Measured | Ratio | Result |", "|---|---|---|---|---|---|"]
    for f in figures:
        target = f"{f.check} {_num(f.target)} {f.unit}".strip() if f.check != "info" else "—"
        measured = f"{_num(f.measured)} {f.unit}".strip()
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "—"
        note = f" ({f.note})" if f.note else ""
        rows.append(f"| {f.bench} | {f.name}{note} | {target} | {measured} | {ratio} | {f.verdict} |")
    return "\n".join(rows)


def to_json(figures: list[Figure]) -> str:
    return json.dumps([{**asdict(f), "ratio": f.ratio, "verdict": f.verdict} for f in figures], indent=1)


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0–100), nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]
