"""domain: the packages execute makes — one per product per pacing period — and how their budgets split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from .budgets import CENT


class PackageStatus(StrEnum):
    """A package's own status at its agent, as our pause, resume and cancel calls left it."""

    ACTIVE = "active"
    PAUSED = "paused"
    CANCELED = "canceled"  # final: nothing sets it back


@dataclass(frozen=True)
class PlannedPackage:
    index: int  # the pacing period's position; 0 when the product has none
    label: str | None
    start: datetime
    end: datetime
    budget: Decimal


def split_by_weight(total: Decimal, weights: Mapping[str, float | Decimal]) -> dict[str, Decimal]:
    """`total` shared in proportion to `weights`, to the cent: shares rounded down, the cents left over
    to the largest remainders (ties by key), so the parts add up to the total exactly."""
    weight_sum = sum((Decimal(str(w)) for w in weights.values()), Decimal(0))
    if not weights:
        return {}
    if weight_sum <= 0:
        weights, weight_sum = {k: 1 for k in weights}, Decimal(len(weights))
    exact = {k: total * Decimal(str(w)) / weight_sum for k, w in weights.items()}
    parts = {k: v.quantize(CENT, rounding=ROUND_DOWN) for k, v in exact.items()}
    leftover = int(((total - sum(parts.values(), Decimal(0))) / CENT).to_integral_value(rounding=ROUND_DOWN))
    for key in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), k))[:leftover]:
        parts[key] += CENT
    return parts


def plan_packages(product_budget: Decimal, periods: list[dict], flight_start: datetime,
                  flight_end: datetime) -> list[PlannedPackage]:
    """One package per pacing period ({label, startTime, endTime, budget?}, times as datetimes), or
    one over the whole flight without periods. A period's own budget is kept; what the named ones
    leave of the product's budget is shared by the others in proportion to their duration."""
    if not periods:
        return [PlannedPackage(0, None, flight_start, flight_end, product_budget)]
    named = {i: _money(p["budget"]) for i, p in enumerate(periods) if p.get("budget") is not None}
    rest = max(product_budget - sum(named.values(), Decimal(0)), Decimal(0))
    unnamed = {str(i): (p["endTime"] - p["startTime"]).total_seconds()
               for i, p in enumerate(periods) if i not in named}
    shares = {int(k): v for k, v in split_by_weight(rest, unnamed).items()}
    return [PlannedPackage(i, p.get("label"), p["startTime"], p["endTime"], named.get(i, shares.get(i, Decimal(0))))
            for i, p in enumerate(periods)]


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def scale_periods(periods: list[dict], factor: Decimal) -> list[dict]:
    """Named period budgets scaled with their product's (rounded down: they still fit it)."""
    return [{**p, "budget": float((_money(p["budget"]) * factor).quantize(CENT, rounding=ROUND_DOWN))}
            if p.get("budget") is not None else p for p in periods]
