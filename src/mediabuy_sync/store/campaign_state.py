"""store: a campaign as the buyer's actions see it — read under its row lock with its plan, manifest,
buys and packages — and its media buys made at the first execute."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from ..domain.packages import plan_packages
from .campaigns import bump, new_id
from .db import queries

Q = queries("campaign_state")


@dataclass
class CampaignState:
    """A campaign as an action sees it, read under the campaign's row lock (buys locked too)."""

    campaign: dict
    products: list[dict]
    manifest: dict[str, str]  # creative id → format
    creatives: list[dict]
    buys: list[dict]  # each with "packages"
    by_id: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        self.by_id = {buy["id"]: buy for buy in self.buys}

    def formats_of(self, buy: dict) -> set[str]:
        """The creative formats a buy's products accept."""
        return {f for p in self.products if p["sales_agent_id"] == buy["sales_agent_id"] for f in p["formats"]}


def lock(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> CampaignState | None:
    """The campaign with its plan, manifest, buys and packages, locked; None if not this advertiser's."""
    campaign = conn.execute(Q["lock_campaign"], {"campaign_id": campaign_id, "advertiser_id": advertiser_id}).fetchone()
    if campaign is None:
        return None
    params = {"campaign_id": campaign_id}
    buys = conn.execute(Q["lock_buys"], params).fetchall()
    packages: dict[str, list[dict]] = {}
    for package in conn.execute(Q["packages_of_campaign"], params):
        packages.setdefault(package["media_buy_id"], []).append(package)
    creatives = conn.execute(Q["manifest"], params).fetchall()
    return CampaignState(
        campaign=campaign,
        products=conn.execute(Q["products"], params).fetchall(),
        manifest={c["creative_id"]: c["format"] for c in creatives},
        creatives=creatives,
        buys=[{**buy, "packages": packages.get(buy["id"], [])} for buy in buys],
    )


def create_buys(conn: psycopg.Connection, state: CampaignState) -> None:
    """One DRAFT media buy per sales agent the campaign has no buy with yet (all of them at the first
    execute; at a re-execute, those of products added since), one package per selected product per
    pacing period (one over the flight without periods); the campaign's goals on every buy."""
    c = state.campaign
    have = {b["sales_agent_id"] for b in state.buys}
    by_agent: dict[str, list[dict]] = {}
    for product in state.products:
        if product["sales_agent_id"] in have:
            continue
        by_agent.setdefault(product["sales_agent_id"], []).append(product)
    for agent_id, products in by_agent.items():
        buy_id = new_id("mb")
        conn.execute(Q["insert_draft_buy"], {"id": buy_id, "campaign_id": c["id"], "sales_agent_id": agent_id,
                                             "optimization_goals": Jsonb(c["optimization_goals"] or [])})
        for product in products:
            periods = [{**p, "startTime": _moment(p["startTime"]), "endTime": _moment(p["endTime"])}
                       for p in product["pacing_periods"] or []]
            for planned in plan_packages(product["budget"], periods, c["flight_start"], c["flight_end"]):
                conn.execute(Q["insert_package"], {
                    "id": new_id("pkg"), "media_buy_id": buy_id, "product_id": product["product_id"],
                    "budget": planned.budget, "currency": c["currency"], "pacing": product["pacing"],
                    "bid_price": product["bid_price"],
                    "pacing_period": Jsonb({"label": planned.label}) if planned.label is not None else None,
                    "pacing_period_index": planned.index,
                    "start_time": planned.start if periods else None, "end_time": planned.end if periods else None,
                })
    bump(conn, c["id"])


def _moment(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
