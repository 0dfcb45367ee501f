"""services: what a campaign update does to budgets — the live package budgets under a new total (or
the ones the request names), or, before the first execute, the plan's product budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ...domain.budgets import BudgetError, new_package_budgets, scale_to
from ...domain.cascades import ALLOCATING
from ...domain.packages import scale_periods
from ...domain.statuses import Status
from ...store.campaign_state import CampaignState
from .common import live_packages


@dataclass
class BudgetPlan:
    package_budgets: dict[str, Decimal] = field(default_factory=dict)  # package id → its new budget (changed only)
    # before any buy exists: (the product, its new budget, its pacing periods with their budgets scaled)
    product_budgets: list[tuple[dict, Decimal, list[dict]]] = field(default_factory=list)
    error: BudgetError | None = None  # INSUFFICIENT_MEDIA_BUDGET: nothing fits (409)
    invalid: str | None = None  # a request the schema let through that names what can't be (422)


def plan(state: CampaignState, body: dict, ending_buys: set[str], ending_packages: set[str]) -> BudgetPlan:
    """The budgets after this request. Buys and packages it cancels or deletes no longer allocate;
    package budgets it names win, the rest scale down proportionally if the new total is below them."""
    entries = body.get("mediaBuys") or []
    live = {p["id"]: p["budget"] or Decimal(0) for b in state.buys
            if Status(b["status"]) in ALLOCATING and b["id"] not in ending_buys
            for p in live_packages(b) if p["id"] not in ending_packages}
    requested = {change["packageId"]: change["budget"] for e in entries if e["action"] == "update"
                 for change in e.get("packages") or () if "budget" in change and change["packageId"] in live}
    total = body["budget"]["total"] if "budget" in body else state.campaign["budget_total"]
    result = BudgetPlan()
    if total is None or not ("budget" in body or requested):
        return result
    if not state.buys:
        result.product_budgets = _scaled_products(state, total)
        return result
    try:
        budgets = new_package_budgets(total, live, requested)
    except BudgetError as exc:
        if exc.code == "VALIDATION_ERROR":
            result.invalid = exc.message
        else:
            result.error = exc
        return result
    result.package_budgets = {pid: amount for pid, amount in budgets.items() if amount != live[pid]}
    return result


def _scaled_products(state: CampaignState, total: Decimal) -> list[tuple[dict, Decimal, list[dict]]]:
    """Before the first execute the plan's products hold the allocations: they scale instead."""
    products = {(p["sales_agent_id"], p["product_id"]): p for p in state.products}
    current = {f"{a}\x00{b}": p["budget"] for (a, b), p in products.items()}
    scaled = []
    for key, amount in scale_to(total, current).items():
        product = products[tuple(key.split("\x00"))]
        if amount != product["budget"]:
            factor = amount / product["budget"] if product["budget"] else Decimal(0)
            scaled.append((product, amount, scale_periods(product["pacing_periods"] or [], factor)))
    return scaled
