"""services: a campaign update (PUT /campaigns/:id) — every rule checked first and every bad entry
named (nothing changes then); then the local changes in the caller's transaction, and what the agents
must hear as at most two cascades: update_media_buy per buy, sync_creatives for a manifest change.

The request's parts: the campaign's own fields (name, budget, frequencyCaps, propertyList), its
creative manifest (creatives.py), its budgets (budgets.py), its flightDates and products
(plan_changes.py) and mediaBuys[] (media_buy_changes.py: update, cancel or delete, one buy each).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

from ...adcp import requests as adcp
from ...domain import plans
from ...domain.campaigns import CANCELABLE, UPDATABLE_FROM, action_error
from ...domain.creatives import creative_ids_errors
from ...domain.frequency_caps import merged_frequency_caps
from ...domain.packages import PackageStatus
from ...domain.statuses import Status
from ...store import campaigns, cascades, media_buys
from ...store.campaign_state import CampaignState
from . import budgets, creatives, media_buy_changes
from .common import (
    Rejected, Started, at_agent, frequency_cap_fields, live_packages, local_result, locked, merge_fields,
    seller_accounts, status_rejected,
)
from .media_buy_changes import AgentUpdates
from .plan_changes import PlanChanges

# The cancellation_reason a live buy's delete sends its agent.
DELETE_REASON = "deleted by the buyer"

# Fields that belong to one action only: given with another, the request is refused, not trimmed.
ACTION_ONLY = {"creative_ids": "update", "packages": "update", "optimization_goals": "update",
               "packageIds": "cancel", "reason": "cancel"}


def update(conn: psycopg.Connection, campaign_id: str, advertiser_id: str, body: dict) -> Started:
    state = locked(conn, campaign_id, advertiser_id)
    if state.campaign["status"] not in UPDATABLE_FROM:
        raise status_rejected("updated", state.campaign["status"], UPDATABLE_FROM)
    request = UpdateRequest(state, body)
    errors, budget = request.check()
    plan = PlanChanges(conn, state, body, request.new_manifest)  # flightDates and products
    plan.check(errors, (body.get("budget") or {}).get("total", state.campaign["budget_total"]))
    if errors:
        raise Rejected(422, "VALIDATION_ERROR", _summary(errors), errors)
    if budget.error is not None:
        raise Rejected(409, budget.error.code, budget.error.message, None, budget.error.details)
    if plan.budget_error is not None:
        allocated, total, excess = plan.budget_error
        raise Rejected(409, "INSUFFICIENT_MEDIA_BUDGET",
                       f"The products' budgets ({allocated}) exceed the campaign budget ({total}).", None,
                       {"allocated": float(allocated), "total": float(total), "excess": float(excess)})
    return request.apply(conn, budget, plan)


def _summary(errors: dict[str, list[str]]) -> str:
    first = next(iter(errors))
    more = f" (and {len(errors) - 1} more field{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{first}: {errors[first][0]}{more}"


class UpdateRequest:
    def __init__(self, state: CampaignState, body: dict):
        self.state, self.body, self.campaign = state, body, state.campaign
        self.entries: list[dict] = body.get("mediaBuys") or []
        self.new_manifest = ({x["creativeId"]: x["format"] for x in body["creatives"]} if "creatives" in body
                             else state.manifest)
        self.errors: dict[str, list[str]] = {}

    def _error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    # -- the rules ----------------------------------------------------------------------------------------

    def check(self) -> tuple[dict[str, list[str]], budgets.BudgetPlan]:
        """({field path: [messages]} of every rule broken, the budgets after the request)."""
        state = self.state
        products = self.body.get("products") or state.products  # the products the manifest must fit after
        if "creatives" in self.body and products:
            formats = [p["formats"] for p in products]
            for i in plans.unplaceable_creatives((x["format"] for x in self.body["creatives"]), formats):
                self._error(f"creatives.{i}.format", "No selected product accepts this format.")
        new_budget = self.body.get("budget") or {}
        if "total" in new_budget and "dailyCap" not in new_budget:  # the kept daily cap must fit the new total
            why = plans.daily_cap_error(self.campaign["daily_cap"], new_budget["total"])
            if why:
                self._error("budget.total", why)
        seen: set[str] = set()
        for i, entry in enumerate(self.entries):
            path = f"mediaBuys.{i}"
            buy = state.by_id.get(entry["mediaBuyId"])
            if buy is None:
                self._error(f"{path}.mediaBuyId", "Not a media buy of this campaign.")
                continue
            if buy["id"] in seen:
                self._error(f"{path}.mediaBuyId", "This media buy has another entry in mediaBuys.")
            seen.add(buy["id"])
            why = action_error(entry["action"], Status(buy["status"]))
            if why:
                self._error(f"{path}.action", why[0].upper() + why[1:] + ".")
            self._check_entry(path, entry, buy)
        budget = budgets.plan(state, self.body, *self._ending())
        if budget.invalid is not None:
            self._error("mediaBuys", budget.invalid)
        return self.errors, budget

    def _check_entry(self, path: str, entry: dict, buy: dict) -> None:
        for name, wanted in ACTION_ONLY.items():
            if name in entry and entry["action"] != wanted:
                self._error(f"{path}.{name}", f"Only valid with action {wanted!r}, not {entry['action']!r}.")
        packages = {p["id"]: p for p in buy["packages"]}
        named = [(f"{path}.packages.{j}.packageId", change["packageId"]) for j, change in enumerate(entry.get("packages") or ())]
        named += [(f"{path}.packageIds.{j}", pid) for j, pid in enumerate(entry.get("packageIds") or ())]
        for where, package_id in named:
            package = packages.get(package_id)
            if package is None:
                self._error(where, "Not a package of this media buy.")
            elif package["status"] == PackageStatus.CANCELED:
                self._error(where, "This package is canceled.")
        for j in plans.repeated(pid for _, pid in named):
            self._error(named[j][0], "This package is named twice.")
        if "creative_ids" in entry:
            for message in creative_ids_errors(entry["creative_ids"], self.new_manifest, self.state.formats_of(buy)):
                self._error(f"{path}.creative_ids", message)

    def _ending(self) -> tuple[set[str], set[str]]:
        """Buys this request cancels or deletes, and packages it cancels: they no longer allocate."""
        buys, packages = set(), set()
        for entry in self.entries:
            if entry["action"] == "delete" or (entry["action"] == "cancel" and not entry.get("packageIds")):
                buys.add(entry["mediaBuyId"])
            elif entry["action"] == "cancel":
                packages.update(entry["packageIds"])
        return buys, packages

    # -- the changes ----------------------------------------------------------------------------------------

    def apply(self, conn: psycopg.Connection, budget: budgets.BudgetPlan, plan: PlanChanges) -> Started:
        body, c, state = self.body, self.campaign, self.state
        started = Started(c["id"], c["status"], c["status"])
        caps_changed = "frequencyCaps" in body and body["frequencyCaps"] != c["frequency_caps"]
        list_changed = "propertyList" in body and body["propertyList"] != c["property_list"]
        campaigns.update_campaign(conn, c["id"], name=body.get("name"), budget=body.get("budget"),
                                  frequency_caps=body.get("frequencyCaps"), property_list=body.get("propertyList"),
                                  set_property_list="propertyList" in body)
        if "creatives" in body:
            campaigns.replace_manifest(conn, c["id"], body["creatives"])
        for product, amount, periods in budget.product_budgets:
            campaigns.update_product_budget(conn, c["id"], product, amount, periods)

        updates = AgentUpdates()
        reasons: set[str] = set()  # what the update cascade carries: its kind when there is one reason
        self._apply_budgets(conn, budget.package_budgets, updates, reasons)

        deleted: set[str] = set()
        for entry in self.entries:
            buy = state.by_id[entry["mediaBuyId"]]
            if entry["action"] == "delete" and Status(buy["status"]) in CANCELABLE:
                # live: canceled at its agent; the worker archives it once the agent accepted (the
                # cascade's request names the delete: store/cascades.deletes_buy)
                media_buy_changes.cancel(buy, {"reason": DELETE_REASON}, updates)
                reasons.add("update")
                deleted.add(buy["id"])
            elif entry["action"] == "delete":
                started.local_results.append(media_buy_changes.delete(conn, buy))
                deleted.add(buy["id"])
            elif entry["action"] == "cancel":
                media_buy_changes.cancel(buy, entry, updates)
                reasons.add("update")
            elif media_buy_changes.update(conn, state, self.new_manifest, buy, entry, budget.package_budgets, updates):
                if at_agent(buy):
                    reasons.add("update")
                else:
                    started.local_results.append(local_result(buy, buy["status"]))

        reasons |= plan.apply(updates)  # a live flight's new end: to each live buy's agent

        if list_changed or caps_changed:
            caps = merged_frequency_caps(body.get("frequencyCaps", c["frequency_caps"]),
                                         campaigns.advertiser_caps(conn, c["advertiser_id"]))
            for buy in state.buys:
                if not at_agent(buy) or buy["id"] in deleted:
                    continue
                if caps_changed:
                    merge_fields(updates.of_buy(buy["id"]), frequency_cap_fields(caps))
                if list_changed:
                    for p in live_packages(buy):
                        updates.of_package(buy["id"], p["id"]).update(adcp.property_list_fields(body["propertyList"]))
            reasons |= {"frequency_caps"} if caps_changed else set()
            reasons |= {"property_list"} if list_changed else set()

        accounts = seller_accounts(conn, state)
        items = updates.items(state, accounts)
        if items:
            kind = next(iter(reasons)) if len(reasons) == 1 else "update"
            started.cascade_ids.append(cascades.create(conn, c["id"], kind, items, _request_summary(body)))
            started.planned.append((kind, items))
        if "creatives" in body:
            overridden = {e["mediaBuyId"] for e in self.entries if "creative_ids" in e}
            creative_items = creatives.sync_items(state, accounts, self.new_manifest, overridden, deleted)
            if creative_items:
                started.cascade_ids.append(cascades.create(conn, c["id"], "creatives", creative_items))
                started.planned.append(("creatives", creative_items))
        return started

    def _apply_budgets(self, conn: psycopg.Connection, package_budgets: dict[str, Decimal], updates: AgentUpdates,
                       reasons: set[str]) -> None:
        """The package budgets the new total scaled (those the request names are its update entries')."""
        by_package = {p["id"]: b for b in self.state.buys for p in b["packages"]}
        explicit = {change["packageId"] for e in self.entries if e["action"] == "update"
                    for change in e.get("packages") or ()}
        for package_id, amount in package_budgets.items():
            if package_id not in explicit:
                media_buys.update_package(conn, package_id, budget=amount)
                buy = by_package[package_id]
                if at_agent(buy):
                    updates.of_package(buy["id"], package_id)["budget"] = float(amount)
                    reasons.add("update")


def _request_summary(body: dict) -> dict:
    """What the buyer asked for, kept on the cascade (JSON-safe: amounts as strings)."""
    def safe(value):
        if isinstance(value, dict):
            return {k: safe(v) for k, v in value.items()}
        if isinstance(value, list):
            return [safe(v) for v in value]
        if isinstance(value, datetime):  # flightDates
            return value.isoformat()
        return str(value) if isinstance(value, Decimal) else value
    return safe({k: v for k, v in body.items() if k != "creatives"})
