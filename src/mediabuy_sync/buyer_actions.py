"""The buyer's actions on a campaign: checked against the campaign under its lock, applied locally in
one transaction, then carried to the agents by cascades that the web starts and waits for.

Flask-free and SDK-free: the web calls it with a connection inside its transaction; a rejected action
raises Rejected and changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import psycopg

from .adcp import requests as adcp
from .config import settings
from .domain import plans
from .domain.actions import (
    ALLOCATING, AT_AGENT, SUBMITTABLE, creative_ids_errors, creatives_for, goals_change_error, merged_frequency_caps,
    scale_periods,
)
from .domain.budgets import BudgetError, new_package_budgets, scale_to
from .domain.campaigns import (
    EXECUTABLE_FROM, PAUSABLE_FROM, PAUSE_TARGETS, REACTIVATABLE_FROM, REACTIVATE_TARGETS, UPDATABLE_FROM, action_error,
)
from .domain.reports import StatusReport
from .domain.statuses import Status
from .store import actions as store
from .store import cascades
from .store.actions import CampaignState
from .store.cascades import NewItem
from .store.db import transaction

log = logging.getLogger(__name__)


class Rejected(Exception):
    """An action that can't be taken; nothing was changed. `fields`: {dotted path: [messages]}."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields, self.details = status, code, message, fields, details


@dataclass
class Started:
    """An action applied locally; its cascades (if any) run on the workers."""

    campaign_id: str
    previous_status: str
    new_status: str
    cascade_ids: list[int] = field(default_factory=list)
    # buys the action changed here without calling an agent (a delete, a DRAFT buy's update)
    local_results: list[dict] = field(default_factory=list)


def webhook_url(agent_id: str) -> str:
    """Where an agent posts its webhooks about our buys."""
    s = settings()
    base = s.public_base_url.rstrip("/")
    if not base:
        host, _, port = s.web_bind.rpartition(":")
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '', '[::]') else host}:{port}"
    return f"{base}/webhooks/adcp/{agent_id}"


def _locked(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> CampaignState:
    state = store.lock(conn, campaign_id, advertiser_id)
    if state is None:
        # the same answer whether the campaign is another advertiser's or does not exist
        raise Rejected(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.")
    return state


def _status_rejected(action: str, status: str, allowed) -> Rejected:
    message = f"A {status} campaign cannot be {action}; allowed from {', '.join(sorted(allowed))}."
    return Rejected(422, "VALIDATION_ERROR", message, {"status": [message]}, {"status": status})


def _live_packages(buy: dict) -> list[dict]:
    return [p for p in buy["packages"] if p["status"] != "canceled"]


def _at_agent(buy: dict) -> bool:
    return Status(buy["status"]) in AT_AGENT


# --- execute -----------------------------------------------------------------------------------------


def execute(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    """Make the buys at the first execute, then submit every DRAFT or FAILED one (a re-execute
    retries only the failed ones). A DRAFT campaign is ACTIVE from now on, whatever the agents say."""
    state = _locked(conn, campaign_id, advertiser_id)
    previous = state.campaign["status"]
    if previous not in EXECUTABLE_FROM:
        raise _status_rejected("executed", previous, EXECUTABLE_FROM)
    if not state.buys:
        if not state.products:
            raise Rejected(422, "VALIDATION_ERROR", "The campaign selects no products: there is nothing to execute.",
                           {"products": ["No products selected."]})
        store.create_buys(conn, state)
        state = _locked(conn, campaign_id, advertiser_id)
    in_flight = cascades.buys_being_submitted(conn, campaign_id)
    targets = [b for b in state.buys if Status(b["status"]) in SUBMITTABLE and b["id"] not in in_flight]
    if targets and not (state.campaign["flight_start"] and state.campaign["flight_end"]):
        # a campaign made over buys the agents already had (`mediabuy-sync campaigns create`) has no plan
        raise Rejected(422, "VALIDATION_ERROR", "The campaign has no flight dates: its media buys can't be submitted.",
                       {"flightDates": ["Missing."]})
    now = datetime.now(timezone.utc)
    caps = merged_frequency_caps(state.campaign["frequency_caps"], store.advertiser_caps(conn, advertiser_id))
    push = store.push_credentials(conn, sorted({b["sales_agent_id"] for b in targets}))
    products = {(p["sales_agent_id"], p["product_id"]): p for p in state.products}
    brand_domain = settings().brand_domain
    items = []
    for buy in targets:
        agent = push.get(buy["sales_agent_id"]) or {"inbound_scheme": "rfc9421", "credential_id": None}
        packages = []
        for p in _live_packages(buy):
            product = products.get((buy["sales_agent_id"], p["product_id"])) or {}
            packages.append(adcp.NewPackage(
                package_id=p["id"], product_id=p["product_id"], pricing_option_id=product.get("pricing_option_id"),
                budget=p["budget"], pacing=p["pacing"], bid_price=p["bid_price"], start=p["start_time"], end=p["end_time"],
                creative_ids=creatives_for(product.get("formats") or (), state.manifest, buy["creative_ids"])))
        goals = buy["optimization_goals"] if buy["optimization_goals"] is not None else state.campaign["optimization_goals"]
        request = adcp.create_media_buy(
            buy_id=buy["id"], campaign=state.campaign, packages=packages, goals=goals or [], caps=caps,
            push=adcp.push_notification_config(webhook_url(buy["sales_agent_id"]), buy["id"], agent["inbound_scheme"],
                                               agent["credential_id"]),
            brand_domain=brand_domain, now=now)
        if previous == "PAUSED":  # a buy (re)submitted under a paused campaign starts paused
            request["paused"] = True
        items.append(NewItem(buy["id"], buy["sales_agent_id"], buy["status"], request))
    store.forget_adcp_ids(conn, [b["id"] for b in targets])
    started = Started(campaign_id, previous, "ACTIVE" if previous == "DRAFT" else previous)
    if items:
        started.cascade_ids.append(cascades.create(conn, campaign_id, "execute", items))
    store.set_campaign_status(conn, campaign_id, started.new_status, executed=True)
    return started


# --- pause and reactivate -------------------------------------------------------------------------------


def pause(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    return _pause_or_reactivate(conn, campaign_id, advertiser_id, paused=True)


def reactivate(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    return _pause_or_reactivate(conn, campaign_id, advertiser_id, paused=False)


def _pause_or_reactivate(conn, campaign_id: str, advertiser_id: str, paused: bool) -> Started:
    """Every media buy the agents hold, and each of its packages, paused or resumed. The campaign
    takes its new status now, even if some agents fail: those failures are the buyer's to see."""
    state = _locked(conn, campaign_id, advertiser_id)
    previous = state.campaign["status"]
    allowed, targets, new_status = ((PAUSABLE_FROM, PAUSE_TARGETS, "PAUSED") if paused
                                    else (REACTIVATABLE_FROM, REACTIVATE_TARGETS, "ACTIVE"))
    if previous not in allowed:
        raise _status_rejected("paused" if paused else "reactivated", previous, allowed)
    advertiser = state.campaign["advertiser_id"]
    items = [
        NewItem(buy["id"], buy["sales_agent_id"], buy["status"], adcp.update_media_buy(
            advertiser, buy["id"], paused=paused,
            packages=[{"package_id": p["id"], "paused": paused} for p in _live_packages(buy)] or None))
        for buy in state.buys if Status(buy["status"]) in targets
    ]
    started = Started(campaign_id, previous, new_status)
    started.cascade_ids.append(cascades.create(conn, campaign_id, "pause" if paused else "reactivate", items))
    store.set_campaign_status(conn, campaign_id, new_status)
    return started


# --- update ----------------------------------------------------------------------------------------------


def update(conn: psycopg.Connection, campaign_id: str, advertiser_id: str, body: dict) -> Started:
    """PUT /campaigns/:id. Every rule is checked first and every bad entry named (nothing changes
    then); the local changes are made in the caller's transaction; what the agents must hear becomes
    at most two cascades: update_media_buy per buy, and sync_creatives for a manifest change."""
    state = _locked(conn, campaign_id, advertiser_id)
    c = state.campaign
    if c["status"] not in UPDATABLE_FROM:
        raise _status_rejected("updated", c["status"], UPDATABLE_FROM)
    plan = _UpdatePlan(state, body)
    plan.check()
    if plan.errors:
        raise Rejected(422, "VALIDATION_ERROR", _summary(plan.errors), plan.errors)
    if plan.budget_error is not None:
        exc = plan.budget_error
        raise Rejected(409, exc.code, exc.message, None, exc.details)
    return plan.apply(conn)


def _summary(errors: dict[str, list[str]]) -> str:
    first = next(iter(errors))
    more = f" (and {len(errors) - 1} more field{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{first}: {errors[first][0]}{more}"


class _UpdatePlan:
    def __init__(self, state: CampaignState, body: dict):
        self.state, self.body = state, body
        self.campaign = state.campaign
        self.entries: list[dict] = body.get("mediaBuys") or []
        self.errors: dict[str, list[str]] = {}
        self.budget_error: BudgetError | None = None
        self.new_manifest = ({x["creativeId"]: x["format"] for x in body["creatives"]} if "creatives" in body
                             else state.manifest)
        self.budget_changes: dict[str, Decimal] = {}
        self.product_budgets: list[tuple[dict, Decimal, list[dict]]] = []  # before any buy exists

    def _error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    # -- the rules ----------------------------------------------------------------------------------------

    def check(self) -> None:
        state = self.state
        if "creatives" in self.body and state.products:
            formats = [p["formats"] for p in state.products]
            for i in plans.unplaceable_creatives((x["format"] for x in self.body["creatives"]), formats):
                self._error(f"creatives.{i}.format", "No selected product accepts this format.")
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
        self._check_budget()

    # Fields that belong to one action only: given with another, the request is refused, not trimmed.
    ACTION_ONLY = {"creative_ids": "update", "packages": "update", "optimization_goals": "update",
                   "confirmOptimizationGoalsChange": "update", "packageIds": "cancel", "reason": "cancel"}

    def _check_entry(self, path: str, entry: dict, buy: dict) -> None:
        for name, wanted in self.ACTION_ONLY.items():
            if name in entry and entry["action"] != wanted:
                self._error(f"{path}.{name}", f"Only valid with action {wanted!r}, not {entry['action']!r}.")
        packages = {p["id"]: p for p in buy["packages"]}
        named = [(f"{path}.packages.{j}.packageId", change["packageId"]) for j, change in enumerate(entry.get("packages") or ())]
        named += [(f"{path}.packageIds.{j}", pid) for j, pid in enumerate(entry.get("packageIds") or ())]
        for where, package_id in named:
            package = packages.get(package_id)
            if package is None:
                self._error(where, "Not a package of this media buy.")
            elif package["status"] == "canceled":
                self._error(where, "This package is canceled.")
        for j in plans.repeated(pid for _, pid in named):
            self._error(named[j][0], "This package is named twice.")
        if "creative_ids" in entry:
            for message in creative_ids_errors(entry["creative_ids"], self.new_manifest, self.state.formats_of(buy)):
                self._error(f"{path}.creative_ids", message)
        if "optimization_goals" in entry:
            current = buy["optimization_goals"] if buy["optimization_goals"] is not None else self.campaign["optimization_goals"]
            why = goals_change_error(current, entry["optimization_goals"], entry.get("confirmOptimizationGoalsChange", False))
            if why:
                self._error(f"{path}.confirmOptimizationGoalsChange", why)

    def _ending(self) -> tuple[set[str], set[str]]:
        """Buys this request cancels or deletes, and packages it cancels: they no longer allocate."""
        buys, packages = set(), set()
        for entry in self.entries:
            if entry["action"] == "delete" or (entry["action"] == "cancel" and not entry.get("packageIds")):
                buys.add(entry["mediaBuyId"])
            elif entry["action"] == "cancel":
                packages.update(entry["packageIds"])
        return buys, packages

    def _check_budget(self) -> None:
        ending_buys, ending_packages = self._ending()
        live = {p["id"]: p["budget"] or Decimal(0) for b in self.state.buys
                if Status(b["status"]) in ALLOCATING and b["id"] not in ending_buys
                for p in _live_packages(b) if p["id"] not in ending_packages}
        requested = {change["packageId"]: change["budget"] for e in self.entries if e["action"] == "update"
                     for change in e.get("packages") or () if "budget" in change and change["packageId"] in live}
        total = self.body["budget"]["total"] if "budget" in self.body else self.campaign["budget_total"]
        if total is None or not ("budget" in self.body or requested):
            return
        if not self.state.buys:
            self._scale_products(total)
            return
        try:
            budgets = new_package_budgets(total, live, requested)
        except BudgetError as exc:
            if exc.code == "VALIDATION_ERROR":
                self._error("mediaBuys", exc.message)
            else:
                self.budget_error = exc
            return
        self.budget_changes = {pid: amount for pid, amount in budgets.items() if amount != live[pid]}

    def _scale_products(self, total: Decimal) -> None:
        """Before the first execute the plan's products hold the allocations: they scale instead."""
        products = {(p["sales_agent_id"], p["product_id"]): p for p in self.state.products}
        current = {f"{a}\x00{b}": p["budget"] for (a, b), p in products.items()}
        for key, amount in scale_to(total, current).items():
            product = products[tuple(key.split("\x00"))]
            if amount != product["budget"]:
                factor = amount / product["budget"] if product["budget"] else Decimal(0)
                self.product_budgets.append((product, amount, scale_periods(product["pacing_periods"] or [], factor)))

    # -- the changes ----------------------------------------------------------------------------------------

    def apply(self, conn: psycopg.Connection) -> Started:
        body, c, state = self.body, self.campaign, self.state
        started = Started(c["id"], c["status"], c["status"])
        caps_changed = "frequencyCaps" in body and body["frequencyCaps"] != c["frequency_caps"]
        list_changed = "propertyList" in body and body["propertyList"] != c["property_list"]
        store.update_campaign(conn, c["id"], name=body.get("name"), budget=body.get("budget"),
                              frequency_caps=body.get("frequencyCaps"), property_list=body.get("propertyList"),
                              set_property_list="propertyList" in body)
        if "creatives" in body:
            store.replace_manifest(conn, c["id"], body["creatives"])
        for product, amount, periods in self.product_budgets:
            store.update_product_budget(conn, c["id"], product, amount, periods)

        updates: dict[str, dict] = {}  # buy id → update_media_buy fields; "packages" by package id
        reasons: set[str] = set()

        def package_fields(buy: dict, package_id: str) -> dict:
            fields = updates.setdefault(buy["id"], {}).setdefault("packages", {})
            return fields.setdefault(package_id, {"package_id": package_id})

        by_package = {p["id"]: (b, p) for b in state.buys for p in b["packages"]}
        explicit = {change["packageId"]: change for e in self.entries if e["action"] == "update"
                    for change in e.get("packages") or ()}
        for package_id, amount in self.budget_changes.items():
            if package_id not in explicit:
                store.update_package(conn, package_id, budget=amount)
                buy, _ = by_package[package_id]
                if _at_agent(buy):
                    package_fields(buy, package_id)["budget"] = float(amount)
                    reasons.add("update")

        deleted = []
        for entry in self.entries:
            buy = state.by_id[entry["mediaBuyId"]]
            if entry["action"] == "delete":
                deleted.append(buy)
            elif entry["action"] == "cancel":
                self._cancel(buy, entry, updates, package_fields)
                reasons.add("update")
            elif self._update_entry(conn, buy, entry, updates, package_fields):
                if _at_agent(buy):
                    reasons.add("update")
                else:
                    started.local_results.append(_local(buy, buy["status"]))
        for buy in deleted:
            started.local_results.append(_local(buy, self._archive(conn, buy)))

        if list_changed or caps_changed:
            caps = merged_frequency_caps(body.get("frequencyCaps", c["frequency_caps"]),
                                         store.advertiser_caps(conn, c["advertiser_id"]))
            for buy in state.buys:
                if not _at_agent(buy) or buy in deleted:
                    continue
                if caps_changed:
                    _merge(updates.setdefault(buy["id"], {}), frequency_cap_fields(caps))
                if list_changed:
                    for p in _live_packages(buy):
                        package_fields(buy, p["id"]).update(adcp.property_list_fields(body["propertyList"]))
            reasons |= {"frequency_caps"} if caps_changed else set()
            reasons |= {"property_list"} if list_changed else set()

        items = []
        for buy_id in sorted(updates):
            buy, fields = state.by_id[buy_id], updates[buy_id]
            if not _at_agent(buy):
                continue
            packages = list(fields.pop("packages", {}).values())
            request = adcp.update_media_buy(c["advertiser_id"], buy_id, packages=packages or None, **fields)
            items.append(NewItem(buy_id, buy["sales_agent_id"], buy["status"], request))
        if items:
            kind = next(iter(reasons)) if len(reasons) == 1 else "update"
            started.cascade_ids.append(cascades.create(conn, c["id"], kind, items, _request_summary(body)))
        if "creatives" in body:
            creative_items = self._creative_items(deleted)
            if creative_items:
                started.cascade_ids.append(cascades.create(conn, c["id"], "creatives", creative_items))
        return started

    def _update_entry(self, conn, buy: dict, entry: dict, updates: dict, package_fields) -> bool:
        """The local changes of one update entry, and what its agent must hear. True when it changed anything."""
        changed = False
        for change in entry.get("packages") or ():
            amount = change.get("budget")
            if amount is None and change["packageId"] in self.budget_changes:
                amount = self.budget_changes[change["packageId"]]
            store.update_package(conn, change["packageId"], budget=amount, pacing=change.get("pacing"),
                                 bid_price=change.get("bidPrice"))
            sent = package_fields(buy, change["packageId"])
            sent.update({k: v for k, v in (("budget", _float(amount)), ("pacing", change.get("pacing")),
                                           ("bid_price", _float(change.get("bidPrice")))) if v is not None})
            changed = True
        goals = entry.get("optimization_goals")
        if goals is not None or "creative_ids" in entry:
            store.set_buy_overrides(conn, buy["id"], creative_ids=entry.get("creative_ids"),
                                    set_creative_ids="creative_ids" in entry, goals=goals)
            changed = True
        formats = {p["product_id"]: p["formats"] for p in self.state.products if p["sales_agent_id"] == buy["sales_agent_id"]}
        for package in _live_packages(buy):
            if goals is not None:
                package_fields(buy, package["id"])["optimization_goals"] = [adcp.optimization_goal(g) for g in goals]
            if "creative_ids" in entry:
                chosen = creatives_for(formats.get(package["product_id"], ()), self.new_manifest, entry["creative_ids"])
                package_fields(buy, package["id"])["creative_assignments"] = [{"creative_id": x} for x in chosen]
        if entry.get("updated_reason") and buy["id"] in updates:
            updates[buy["id"]].setdefault("ext", {})["updated_reason"] = entry["updated_reason"]
        return changed

    @staticmethod
    def _cancel(buy: dict, entry: dict, updates: dict, package_fields) -> None:
        reason = entry.get("reason")
        if entry.get("packageIds"):
            for package_id in entry["packageIds"]:
                package_fields(buy, package_id).update({"canceled": True, **({"cancellation_reason": reason} if reason else {})})
        else:
            updates.setdefault(buy["id"], {}).update({"canceled": True, "cancellation_reason": reason})

    @staticmethod
    def _archive(conn, buy: dict) -> str:
        """delete: archive the buy here, through the one status path."""
        from .worker.status_path import apply_report

        report = StatusReport(adcp_media_buy_id=buy["adcp_media_buy_id"], operation_id=buy["id"], task_id=None,
                              status=Status.ARCHIVED, adcp_status=None, as_of=datetime.now(timezone.utc))
        applied = apply_report(conn, buy["sales_agent_id"], report, source="api")
        store.bump(conn, applied.campaign_id)
        return applied.to_status

    def _creative_items(self, deleted: list[dict]) -> list[NewItem]:
        """sync_creatives to each auto-synced buy (no creative_ids override, none set by this request)
        whose packages gain or lose creatives with the new manifest: exactly the buys whose products
        accept a changed creative's format."""
        overridden = {e["mediaBuyId"] for e in self.entries if "creative_ids" in e}
        items = []
        for buy in self.state.buys:
            if not _at_agent(buy) or buy["creative_ids"] is not None or buy["id"] in overridden or buy in deleted:
                continue
            formats = {p["product_id"]: p["formats"] for p in self.state.products
                       if p["sales_agent_id"] == buy["sales_agent_id"]}
            assign, unassign = [], []
            for package in _live_packages(buy):
                accepted = formats.get(package["product_id"], ())
                before = set(creatives_for(accepted, self.state.manifest, None))
                after = set(creatives_for(accepted, self.new_manifest, None))
                changed = {cid for cid in before & after if self.state.manifest[cid] != self.new_manifest[cid]}
                assign += [(cid, package["id"]) for cid in sorted((after - before) | changed)]
                unassign += [(cid, package["id"]) for cid in sorted(before - after)]
            if assign or unassign:
                request = adcp.sync_creatives(self.campaign["advertiser_id"], sorted({cid for cid, _ in assign}),
                                              assign, unassign)
                items.append(NewItem(buy["id"], buy["sales_agent_id"], buy["status"], request))
        return items


def frequency_cap_fields(caps: list[dict]) -> dict:
    cap = adcp.frequency_cap(caps)
    # no caps left: an empty list in ext says so (ADCP has no way to remove a cap)
    return {"frequency_cap": cap, "ext": {"frequency_caps": caps}} if cap else {"ext": {"frequency_caps": []}}


def _merge(fields: dict, more: dict) -> None:
    """Add update_media_buy fields; `ext` objects are merged, not replaced."""
    for key, value in more.items():
        if key == "ext" and isinstance(fields.get("ext"), dict):
            fields["ext"] = {**fields["ext"], **value}
        else:
            fields[key] = value


def _float(value) -> float | None:
    return None if value is None else float(value)


def _local(buy: dict, status: str) -> dict:
    return {"mediaBuyId": buy["id"], "salesAgentId": buy["sales_agent_id"], "previousStatus": buy["status"],
            "status": status, "success": True}


def _request_summary(body: dict) -> dict:
    """What the buyer asked for, kept on the cascade (JSON-safe: amounts as strings)."""
    def safe(value):
        if isinstance(value, dict):
            return {k: safe(v) for k, v in value.items()}
        if isinstance(value, list):
            return [safe(v) for v in value]
        return str(value) if isinstance(value, Decimal) else value
    return safe({k: v for k, v in body.items() if k != "creatives"})


# --- advertiser frequency caps -----------------------------------------------------------------------


def set_advertiser_caps(conn: psycopg.Connection, advertiser_id: str, caps: list[dict]) -> list[tuple[str, int]]:
    """Store the advertiser's caps and cascade them (merged with each campaign's) to every buy its
    agents hold; returns [(campaign id, cascade id)]."""
    store.set_advertiser_caps(conn, advertiser_id, caps)
    started = []
    for campaign_id in store.campaigns_with_buys_at_agents(conn, advertiser_id, sorted(AT_AGENT)):
        state = _locked(conn, campaign_id, advertiser_id)
        fields = frequency_cap_fields(merged_frequency_caps(state.campaign["frequency_caps"], caps))
        items = [NewItem(b["id"], b["sales_agent_id"], b["status"], adcp.update_media_buy(advertiser_id, b["id"], **fields))
                 for b in state.buys if _at_agent(b)]
        started.append((campaign_id, cascades.create(conn, campaign_id, "frequency_caps", items,
                                                     {"advertiserFrequencyCaps": caps})))
    return started


# --- running and waiting --------------------------------------------------------------------------------


def start(cascade_ids: list[int], publisher) -> bool:
    """One job per sales agent per cascade, so agents are called in parallel. False when the broker
    could not be reached: the cascades sweeper starts them later."""
    from .worker.app import RUN_CASCADE_AGENT

    try:
        for cascade_id in cascade_ids:
            with transaction() as conn:
                agents = cascades.agents_pending(conn, cascade_id)
            for agent_id in agents:
                publisher.send_task(RUN_CASCADE_AGENT, args=[cascade_id, agent_id])
    except Exception as exc:  # noqa: BLE001 - the action is committed; the sweeper carries it on
        log.warning("cascades %s not enqueued (%s); the cascade sweeper will start them", cascade_ids, exc)
        return False
    return True


def wait(cascade_ids: list[int], timeout: float, interval: float = 0.05) -> list[dict]:
    """The cascades (with their items) once none is running, or as they stand at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = [cascades.get(cascade_id) for cascade_id in cascade_ids]
        if all(c["state"] != "running" for c in found) or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def item_results(found: list[dict]) -> dict[str, dict]:
    """Per media buy across these cascades: {mediaBuyId, salesAgentId, previousStatus, status, success,
    pending, error?} — failed if any of its items failed, pending while any is."""
    results: dict[str, dict] = {}
    for cascade in found:
        for item in cascade["items"]:
            entry = results.setdefault(item["media_buy_id"], {
                "mediaBuyId": item["media_buy_id"], "salesAgentId": item["sales_agent_id"],
                "previousStatus": item["previous_status"], "success": True, "pending": False})
            entry["status"] = item["media_buy_status"]
            if item["state"] == "pending":
                entry["pending"] = True
                entry["success"] = False
            elif item["state"] == "failed":
                entry["success"] = False
                entry.setdefault("error", error_message(item["error"]))
    return results


def error_message(error: dict | None) -> str:
    if not error:
        return "failed"
    return f"{error.get('kind', 'error')}: {error.get('message', '')}".strip()
