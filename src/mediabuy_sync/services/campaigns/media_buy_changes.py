"""services: the three things a campaign update's mediaBuys[] can do to one media buy, each applied
here and, for a buy its agent holds, gathered into the update_media_buy its agent receives:
update (package budgets, pacing, bid prices, creative_ids, optimization_goals), cancel (the buy or
some packages, at the agent) and delete (archive it here; a live buy's delete is a cancel at its
agent, archived by the worker once accepted: update.py, services/cascade_jobs.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from ...adcp import requests as adcp
from ...domain.creatives import creatives_for
from ...domain.reports import Source, StatusReport
from ...domain.statuses import Status
from ...store import campaigns, media_buys
from ...store.campaign_state import CampaignState
from ...store.cascades import NewItem
from ..status_path import apply_report
from .common import account_for, at_agent, live_packages, local_result


class AgentUpdates:
    """The update_media_buy fields each buy's agent is to receive, packages by id, gathered across the
    request's changes until they become cascade items."""

    def __init__(self):
        self.by_buy: dict[str, dict] = {}

    def of_buy(self, buy_id: str) -> dict:
        return self.by_buy.setdefault(buy_id, {})

    def of_package(self, buy_id: str, package_id: str) -> dict:
        return self.of_buy(buy_id).setdefault("packages", {}).setdefault(package_id, {"package_id": package_id})

    def items(self, state: CampaignState, accounts: dict[str, str | None]) -> list[NewItem]:
        """One update_media_buy per buy its agent holds, in buy id order."""
        advertiser_id = state.campaign["advertiser_id"]
        items = []
        for buy_id in sorted(self.by_buy):
            buy, fields = state.by_id[buy_id], dict(self.by_buy[buy_id])
            if not at_agent(buy):
                continue
            packages = list(fields.pop("packages", {}).values())
            request = adcp.update_media_buy(account_for(accounts, buy, advertiser_id), buy_id, packages=packages or None,
                                            **fields)
            items.append(NewItem(buy_id, buy["sales_agent_id"], buy["status"], request))
        return items


def update(conn: psycopg.Connection, state: CampaignState, new_manifest: dict[str, str], buy: dict, entry: dict,
           package_budgets: dict, updates: AgentUpdates) -> bool:
    """One update entry's local changes, and what its agent must hear; True when it changed anything."""
    changed = False
    for change in entry.get("packages") or ():
        amount = change.get("budget")
        if amount is None and change["packageId"] in package_budgets:
            amount = package_budgets[change["packageId"]]
        media_buys.update_package(conn, change["packageId"], budget=amount, pacing=change.get("pacing"),
                                  bid_price=change.get("bidPrice"))
        sent = updates.of_package(buy["id"], change["packageId"])
        sent.update({k: v for k, v in (("budget", _float(amount)), ("pacing", change.get("pacing")),
                                       ("bid_price", _float(change.get("bidPrice")))) if v is not None})
        changed = True
    goals = entry.get("optimization_goals")
    if goals is not None or "creative_ids" in entry:
        media_buys.set_overrides(conn, buy["id"], creative_ids=entry.get("creative_ids"),
                                 set_creative_ids="creative_ids" in entry, goals=goals)
        changed = True
    formats = {p["product_id"]: p["formats"] for p in state.products if p["sales_agent_id"] == buy["sales_agent_id"]}
    for package in live_packages(buy):
        if goals is not None:
            updates.of_package(buy["id"], package["id"])["optimization_goals"] = [adcp.optimization_goal(g) for g in goals]
        if "creative_ids" in entry:
            chosen = creatives_for(formats.get(package["product_id"], ()), new_manifest, entry["creative_ids"])
            updates.of_package(buy["id"], package["id"])["creative_assignments"] = [{"creative_id": x} for x in chosen]
    if entry.get("updated_reason") and buy["id"] in updates.by_buy:
        updates.of_buy(buy["id"]).setdefault("ext", {})["updated_reason"] = entry["updated_reason"]
    return changed


def cancel(buy: dict, entry: dict, updates: AgentUpdates) -> None:
    """Cancel the buy, or the packages `packageIds` names, at its agent (the agent's answer settles it)."""
    reason = entry.get("reason")
    if entry.get("packageIds"):
        for package_id in entry["packageIds"]:
            updates.of_package(buy["id"], package_id).update(
                {"canceled": True, **({"cancellation_reason": reason} if reason else {})})
    else:
        updates.of_buy(buy["id"]).update({"canceled": True, "cancellation_reason": reason})


def delete(conn: psycopg.Connection, buy: dict) -> dict:
    """Archive the buy here, through the one status path; returns its result."""
    report = StatusReport(adcp_media_buy_id=buy["adcp_media_buy_id"], operation_id=buy["id"], task_id=None,
                          status=Status.ARCHIVED, adcp_status=None, as_of=datetime.now(timezone.utc))
    applied = apply_report(conn, buy["sales_agent_id"], report, source=Source.API)
    campaigns.bump(conn, applied.campaign_id)
    return local_result(buy, applied.to_status)


def _float(value) -> float | None:
    return None if value is None else float(value)
