"""services: a campaign update's dry run (PUT /campaigns/:id with dryRun: true) — every rule of the
update checked, the update applied inside the caller's transaction so the plan is exactly what the update
would do, then undone: DryRun carries the plan out and the caller's transaction rolls back. Nothing is
kept and no cascade starts, so no agent hears of it."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from ...domain.cascades import CASCADE_TASK
from ...domain.goals import goals_diff
from ...store import campaign_state
from ...store.campaign_state import CampaignState
from .common import locked
from .update import update


class DryRun(Exception):
    """Raised to roll the caller's transaction back; `plan` is what the update would have done."""

    def __init__(self, plan: dict):
        super().__init__("dry run")
        self.plan = plan


def dry_run(conn: psycopg.Connection, campaign_id: str, advertiser_id: str, body: dict):
    """Plan the update and undo it: raises Rejected as the update would, else DryRun with the plan."""
    before = locked(conn, campaign_id, advertiser_id)
    started = update(conn, campaign_id, advertiser_id, body)
    after = campaign_state.lock(conn, campaign_id, advertiser_id)
    raise DryRun(plan(before, after, body, started.planned))


def plan(before: CampaignState, after: CampaignState, body: dict, planned: list[tuple[str, list]]) -> dict:
    """The campaign's budget, each named or changed buy's status, goals and package budgets, before and
    after; the requests each agent would receive, by cascade."""
    named = {e["mediaBuyId"]: e for e in body.get("mediaBuys") or ()}
    buys = []
    for old in before.buys:
        new = after.by_id[old["id"]]
        new_packages = {p["id"]: p for p in new["packages"]}
        packages = [{"packageId": p["id"], "productId": p["product_id"],
                     "budget": {"before": _num(p["budget"]), "after": _num(new_packages[p["id"]]["budget"])},
                     "pacing": {"before": p["pacing"], "after": new_packages[p["id"]]["pacing"]},
                     "status": {"before": p["status"], "after": new_packages[p["id"]]["status"]}}
                    for p in old["packages"]]
        changed = [p for p in packages if any(p[k]["before"] != p[k]["after"] for k in ("budget", "pacing", "status"))]
        goals_before = old["optimization_goals"] if old["optimization_goals"] is not None else before.campaign["optimization_goals"]
        goals_after = new["optimization_goals"] if new["optimization_goals"] is not None else after.campaign["optimization_goals"]
        entry = named.get(old["id"])
        if entry is None and not changed:
            continue
        buys.append({"mediaBuyId": old["id"], "salesAgentId": old["sales_agent_id"],
                     "action": entry["action"] if entry else None,
                     "status": {"before": old["status"], "after": new["status"]},
                     "optimizationGoals": goals_diff(goals_before, goals_after or []),
                     "packages": changed})
    c0, c1 = before.campaign, after.campaign
    return {
        "campaignStatus": c1["status"],
        "budget": {"before": _budget(c0), "after": _budget(c1)},
        "mediaBuys": buys,
        "cascades": [{"kind": kind, "requests": [
            {"mediaBuyId": item.media_buy_id, "salesAgentId": item.sales_agent_id, "task": CASCADE_TASK[kind],
             "request": item.request} for item in items]} for kind, items in planned],
    }


def _budget(c: dict) -> dict:
    return {"total": _num(c["budget_total"]), "currency": c["currency"], "dailyCap": _num(c["daily_cap"]),
            "pacing": c["pacing"]}


def _num(value):
    return float(value) if isinstance(value, Decimal) else value
