"""domain: budget rules of the campaign update — proportional scaling of live package budgets."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

CENT = Decimal("0.01")


class BudgetError(ValueError):
    """A budget request that cannot be honoured; `code` is the API error code."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


def scale_to(total: Decimal, allocations: dict[str, Decimal]) -> dict[str, Decimal]:
    """Scale allocations down proportionally so they sum to exactly `total` (to the cent).

    Each share is rounded down to the cent and the cents left over go to the largest remainders, so
    the result never exceeds the total and is deterministic (ties by id).
    """
    current = sum(allocations.values(), Decimal(0))
    if current <= total or current == 0:
        return dict(allocations)
    exact = {pid: amount * total / current for pid, amount in allocations.items()}
    scaled = {pid: value.quantize(CENT, rounding=ROUND_DOWN) for pid, value in exact.items()}
    leftover = int(((total - sum(scaled.values(), Decimal(0))) / CENT).to_integral_value(rounding=ROUND_DOWN))
    for pid in sorted(exact, key=lambda p: (-(exact[p] - scaled[p]), p))[:leftover]:
        scaled[pid] += CENT
    return scaled


def new_package_budgets(
    new_total: Decimal, live: dict[str, Decimal], requested: dict[str, Decimal]
) -> dict[str, Decimal]:
    """The live package budgets after the campaign's total changes to `new_total`.

    Packages the request names keep the amounts it names; the others scale down proportionally into
    what is left of the total, but only if they no longer fit beside the named ones (never up). If the
    named amounts alone exceed the new total, nothing can make it fit: INSUFFICIENT_MEDIA_BUDGET.
    """
    unknown = sorted(set(requested) - set(live))
    if unknown:
        raise BudgetError("VALIDATION_ERROR", "These packages are not live in this campaign.", {"packageIds": unknown})
    fixed = sum(requested.values(), Decimal(0))
    if fixed > new_total:
        raise BudgetError(
            "INSUFFICIENT_MEDIA_BUDGET",
            f"The package budgets requested ({fixed}) exceed the campaign budget ({new_total}).",
            {"requested": str(fixed), "total": str(new_total)},
        )
    others = {pid: amount for pid, amount in live.items() if pid not in requested}
    return {**scale_to(new_total - fixed, others), **requested}
