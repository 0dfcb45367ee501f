"""services: a campaign update's changes to its plan — `flightDates` and `products` (PUT
/campaigns/:id). A DRAFT takes any flight and any products. A live (ACTIVE or PAUSED) campaign's
flight may only be extended, carried to each live buy's agent as update_media_buy `end_time`; its
products may only grow by products of sales agents it has no buy with yet (the next execute makes and
submits their buys): a product already bought is changed through mediaBuys[] (its packages), never
here, and a new product of an agent that has a buy is refused rather than half-applied (ADCP's
update_media_buy changes the packages a buy has; it does not add any)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import psycopg

from ...domain import plans
from ...domain.campaigns import CampaignStatus
from ...domain.lifecycle import flight_change_error
from ...domain.statuses import Status
from ...store import campaign_plan_changes, campaigns
from ...store.campaign_state import CampaignState
from .. import products as catalogues
from .common import at_agent

Errors = dict[str, list[str]]


def _moment(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _periods(periods) -> list[tuple]:
    """Pacing periods, stored (ISO strings, amounts as numbers) or requested (datetimes, Decimals), in one form."""
    return [(p.get("label"), _moment(p.get("startTime")), _moment(p.get("endTime")),
             None if p.get("budget") is None else Decimal(str(p["budget"]))) for p in periods or ()]


def as_row(p: dict) -> dict:
    """A requested product as a stored row holds it."""
    return {"sales_agent_id": p["salesAgentId"], "product_id": p["productId"], "budget": p["budget"],
            "formats": p["formats"], "pacing": p.get("pacing"), "bid_price": p.get("bidPrice"),
            "pricing_option_id": p.get("pricingOptionId"),
            "pacing_periods": [{**{k: v for k, v in q.items() if k not in ("startTime", "endTime", "budget")},
                                "startTime": q["startTime"].isoformat(), "endTime": q["endTime"].isoformat(),
                                **({"budget": float(q["budget"]) if q["budget"] is not None else None}
                                   if "budget" in q else {})}
                               for q in p.get("pacingPeriods") or ()]}


def _same(stored: dict, asked: dict) -> bool:
    return (stored["budget"] == asked["budget"] and sorted(stored["formats"]) == sorted(asked["formats"])
            and stored["pacing"] == asked.get("pacing") and stored["bid_price"] == asked.get("bidPrice")
            and _periods(stored["pacing_periods"]) == _periods(asked.get("pacingPeriods")))


class PlanChanges:
    """The flightDates and products of one update: checked, then applied."""

    def __init__(self, conn: psycopg.Connection, state: CampaignState, body: dict, new_manifest: dict[str, str]):
        self.conn, self.state, self.body, self.manifest = conn, state, body, new_manifest
        c = state.campaign
        self.lifecycle = c["status"]
        flight = body.get("flightDates")
        self.start = flight["startDate"] if flight else c["flight_start"]
        self.end = flight["endDate"] if flight else c["flight_end"]
        self.added: list[dict] = []  # rows to store after the kept ones (all of them for a DRAFT)
        self.budget_error: tuple[Decimal, Decimal, Decimal] | None = None

    def check(self, errors: Errors, total: Decimal | None) -> None:
        """Add what is wrong to `errors` ({field path: [messages]}); an over-allocation is kept aside
        (self.budget_error: 409, as at create)."""
        c, body = self.state.campaign, self.body
        if "flightDates" in body:
            why = flight_change_error(self.lifecycle, c["flight_start"], c["flight_end"], self.start, self.end,
                                      datetime.now(timezone.utc))
            for field, messages in (why or {}).items():
                errors.setdefault(field, []).extend(messages)
        if "products" in body:
            self._check_products(errors)
        if self.start is None or self.end is None:
            return
        # every pacing period within the (new) flight: the requested products', and the kept ones'
        products = body.get("products")
        if products is None and "flightDates" in body and self.lifecycle == CampaignStatus.DRAFT:
            checked = [(f"products.{i}", p["pacing_periods"]) for i, p in enumerate(self.state.products)]
        else:
            checked = [(f"products.{i}", p.get("pacingPeriods")) for i, p in enumerate(products or ())
                       if self._is_new(p)]
        for path, periods in checked:
            for q, (_, start, end, _) in enumerate(_periods(periods)):
                for message in plans.period_errors(start, end, self.start, self.end):
                    errors.setdefault(f"{path}.pacingPeriods.{q}", []).append(message)
        if products is not None and total is not None:
            excess = plans.overallocation(total, (p["budget"] for p in products))
            if excess:
                self.budget_error = (sum((p["budget"] for p in products), Decimal(0)), total, excess)

    def _is_new(self, asked: dict) -> bool:
        return self.lifecycle == CampaignStatus.DRAFT or not any(
            (p["sales_agent_id"], p["product_id"]) == (asked["salesAgentId"], asked["productId"])
            for p in self.state.products)

    def _check_products(self, errors: Errors) -> None:
        products = self.body["products"]
        known = campaigns.registered_agents(self.conn, [p["salesAgentId"] for p in products])
        for i, p in enumerate(products):
            if p["salesAgentId"] not in known:
                errors.setdefault(f"products.{i}.salesAgentId", []).append("No sales agent is registered with this id.")
        for i in plans.unplaceable_creatives(self.manifest.values(), (p["formats"] for p in products)):
            errors.setdefault("products", []).append(
                f"No product would accept creative {list(self.manifest)[i]!r} of format "
                f"{list(self.manifest.values())[i]!r} any more: change the manifest (creatives) too.")
        new = [(i, p) for i, p in enumerate(products) if self._is_new(p)]
        if self.lifecycle != CampaignStatus.DRAFT:
            asked = {(p["salesAgentId"], p["productId"]): (i, p) for i, p in enumerate(products)}
            for stored in self.state.products:
                key = (stored["sales_agent_id"], stored["product_id"])
                if key not in asked:
                    errors.setdefault("products", []).append(
                        f"Product {key[1]!r} of sales agent {key[0]!r} is bought: it can't be left out (cancel its "
                        f"packages through mediaBuys[] instead).")
                elif not _same(stored, asked[key][1]):
                    errors.setdefault(f"products.{asked[key][0]}", []).append(
                        "This product is bought: change its packages through mediaBuys[] (budget, pacing, bid "
                        "price), not here.")
            buys = {b["sales_agent_id"]: b["id"] for b in self.state.buys if Status(b["status"]) != Status.ARCHIVED}
            for i, p in new:
                if p["salesAgentId"] in buys:
                    errors.setdefault(f"products.{i}.salesAgentId", []).append(
                        f"Sales agent {p['salesAgentId']!r} already has media buy {buys[p['salesAgentId']]}: a product "
                        f"can only be added for a sales agent this campaign has no media buy with.")
        rows = [as_row(p) for _, p in new]
        refused, options = catalogues.check_plan(self.conn, rows)
        for field, messages in refused.items():  # "products.<j>.<field>", j counting the new ones only
            _, j, rest = field.split(".", 2)
            errors.setdefault(f"products.{new[int(j)][0]}.{rest}", []).extend(messages)
        for j, row in enumerate(rows):  # the product's only pricing option, when the buyer named none
            if options.get(j) and not row["pricing_option_id"]:
                row["pricing_option_id"] = options[j]
        self.added = rows

    def apply(self, updates) -> set[str]:
        """Store the changes; for a live flight's new end, what each live buy's agent must hear (added to
        `updates`). Returns the cascade reasons ({"update"} when an agent is to be told)."""
        c, reasons = self.state.campaign, set()
        if "flightDates" in self.body and (self.start, self.end) != (c["flight_start"], c["flight_end"]):
            campaign_plan_changes.set_flight(self.conn, c["id"], self.start, self.end)
            if self.lifecycle != CampaignStatus.DRAFT and self.end != c["flight_end"]:
                for buy in self.state.buys:
                    if at_agent(buy):
                        updates.of_buy(buy["id"])["end_time"] = self.end.isoformat().replace("+00:00", "Z")
                        reasons.add("update")
        if "products" in self.body:
            if self.lifecycle == CampaignStatus.DRAFT:
                campaign_plan_changes.replace_products(self.conn, c["id"], self.added)
            elif self.added:
                first = max((p["position"] for p in self.state.products), default=-1) + 1
                campaign_plan_changes.add_products(self.conn, c["id"], self.added, first)
        return reasons
