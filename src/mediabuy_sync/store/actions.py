"""The buyer's actions on a campaign, as local changes: reading the campaign under its lock, making
its media buys and packages at the first execute, the update's changes, and — worker side — what the
agents' answers change on buys and packages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from ..domain.actions import plan_packages
from .campaigns import new_id
from .db import queries

Q = queries("actions")


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
    """The first execute: one DRAFT media buy per sales agent, one package per selected product per
    pacing period (one over the flight without periods); the campaign's goals on every buy."""
    c = state.campaign
    by_agent: dict[str, list[dict]] = {}
    for product in state.products:
        by_agent.setdefault(product["sales_agent_id"], []).append(product)
    for agent_id, products in by_agent.items():
        buy_id = new_id("mb")
        conn.execute(Q["insert_buy"], {"id": buy_id, "campaign_id": c["id"], "sales_agent_id": agent_id,
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
    conn.execute(Q["bump_campaign"], {"campaign_id": c["id"]})


def _moment(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def push_credentials(conn: psycopg.Connection, agent_ids: list[str]) -> dict[str, dict]:
    """{agent id: {inbound_scheme, credential_id}} — what each agent's push config names."""
    return {row["id"]: row for row in conn.execute(Q["push_credentials"], {"agent_ids": agent_ids})}


def set_campaign_status(conn: psycopg.Connection, campaign_id: str, status: str, executed: bool = False) -> None:
    conn.execute(Q["set_campaign_status"], {"campaign_id": campaign_id, "status": status, "executed": executed})


def bump(conn: psycopg.Connection, campaign_id: str) -> None:
    conn.execute(Q["bump_campaign"], {"campaign_id": campaign_id})


def forget_adcp_ids(conn: psycopg.Connection, buy_ids: list[str]) -> None:
    conn.execute(Q["forget_adcp_ids"], {"ids": buy_ids})


def update_campaign(conn: psycopg.Connection, campaign_id: str, *, name: str | None = None,
                    budget: dict | None = None, frequency_caps: list | None = None,
                    property_list: dict | None = None, set_property_list: bool = False) -> None:
    conn.execute(Q["update_campaign"], {
        "campaign_id": campaign_id, "name": name,
        "budget_total": budget["total"] if budget else None, "currency": budget["currency"] if budget else None,
        "set_budget": budget is not None,
        "daily_cap": budget.get("dailyCap") if budget else None, "pacing": budget.get("pacing") if budget else None,
        "frequency_caps": Jsonb(frequency_caps) if frequency_caps is not None else None,
        "set_property_list": set_property_list,
        "property_list": Jsonb(property_list) if property_list is not None else None,
    })


def replace_manifest(conn: psycopg.Connection, campaign_id: str, creatives: list[dict]) -> None:
    conn.execute(Q["delete_manifest"], {"campaign_id": campaign_id})
    with conn.cursor() as cur:
        cur.executemany(Q["insert_creative"], [
            {"campaign_id": campaign_id, "creative_id": c["creativeId"], "format": c["format"], "name": c.get("name")}
            for c in creatives
        ])


def update_product_budget(conn: psycopg.Connection, campaign_id: str, product: dict, budget: Decimal,
                          pacing_periods: list[dict]) -> None:
    conn.execute(Q["update_product_budget"], {
        "campaign_id": campaign_id, "sales_agent_id": product["sales_agent_id"],
        "product_id": product["product_id"], "budget": budget, "pacing_periods": Jsonb(pacing_periods)})


def update_package(conn: psycopg.Connection, package_id: str, budget: Decimal | None = None,
                   pacing: str | None = None, bid_price: Decimal | None = None) -> None:
    conn.execute(Q["update_package"], {"id": package_id, "budget": budget, "pacing": pacing, "bid_price": bid_price})


def set_buy_overrides(conn: psycopg.Connection, buy_id: str, *, creative_ids: list[str] | None = None,
                      set_creative_ids: bool = False, goals: list[dict] | None = None) -> None:
    conn.execute(Q["set_buy_overrides"], {
        "id": buy_id, "set_creative_ids": set_creative_ids, "creative_ids": creative_ids,
        "set_goals": goals is not None, "optimization_goals": Jsonb(goals) if goals is not None else None})


def advertiser_caps(conn: psycopg.Connection, advertiser_id: str) -> list[dict]:
    row = conn.execute(Q["advertiser_caps"], {"advertiser_id": advertiser_id}).fetchone()
    return row["frequency_caps"] if row else []


def set_advertiser_caps(conn: psycopg.Connection, advertiser_id: str, caps: list[dict]) -> None:
    conn.execute(Q["upsert_advertiser_caps"], {"advertiser_id": advertiser_id, "frequency_caps": Jsonb(caps)})


def campaigns_with_buys_at_agents(conn: psycopg.Connection, advertiser_id: str, statuses: list[str]) -> list[str]:
    return [row["id"] for row in conn.execute(Q["campaigns_with_buys_at_agents"],
                                               {"advertiser_id": advertiser_id, "statuses": statuses})]


# --- worker side: what the agents' answers change ------------------------------------------------------


def record_submission(conn: psycopg.Connection, buy_id: str, task_id: str | None, adcp_media_buy_id: str | None,
                      poll_in: float | None) -> None:
    conn.execute(Q["record_submission"], {"id": buy_id, "task_id": task_id, "adcp_media_buy_id": adcp_media_buy_id,
                                          "poll_in": poll_in})


def set_last_error(conn: psycopg.Connection, buy_id: str, error: dict | None) -> None:
    conn.execute(Q["set_last_error"], {"id": buy_id, "error": Jsonb(error) if error is not None else None})


def buy_for_calls(conn: psycopg.Connection, buy_id: str) -> dict | None:
    return conn.execute(Q["buy_for_calls"], {"id": buy_id}).fetchone()


def packages_of_buy(conn: psycopg.Connection, buy_id: str) -> list[dict]:
    """The buy's packages in the order its create_media_buy listed them."""
    return conn.execute(Q["packages_of_buy"], {"id": buy_id}).fetchall()


def learn_package_ids(conn: psycopg.Connection, buy_id: str, mapping: dict[str, str]) -> None:
    if mapping:
        ids = sorted(mapping)
        conn.execute(Q["learn_package_ids"], {"media_buy_id": buy_id, "ids": ids, "adcp_ids": [mapping[i] for i in ids]})


def learn_from_agent(conn: psycopg.Connection, buy_id: str, theirs: list[dict]) -> None:
    """The agent's ids of the buy's packages, from the packages it listed (a create's result)."""
    from ..adcp.requests import match_packages

    ours = [(p["id"], p["product_id"]) for p in packages_of_buy(conn, buy_id)]
    learn_package_ids(conn, buy_id, match_packages(ours, theirs))


def set_package_statuses(conn: psycopg.Connection, buy_id: str, statuses: dict[str, str]) -> None:
    if statuses:
        ids = sorted(statuses)
        conn.execute(Q["set_package_statuses"], {"media_buy_id": buy_id, "ids": ids,
                                                 "statuses": [statuses[i] for i in ids]})
