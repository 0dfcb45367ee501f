"""store: campaigns — their plan, their rows' changes, and the surfaced status kept on the campaign row."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from ..domain import lifecycle
from ..domain.campaigns import CampaignStatus
from ..domain.polling import next_poll_in
from ..domain.rollup import most_restrictive
from ..domain.statuses import Status
from .db import queries

Q = queries("campaigns")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(frozen=True)
class NewBuy:
    sales_agent_id: str
    adcp_media_buy_id: str | None = None
    adcp_task_id: str | None = None
    status: Status = Status.DRAFT
    adcp_status: str | None = None
    status_as_of: datetime | None = None


def create_campaign(
    conn: psycopg.Connection, advertiser_id: str, name: str, buys: list[NewBuy], status: str = CampaignStatus.DRAFT
) -> tuple[str, list[str]]:
    """A campaign with its media buys, its rollup computed. Returns (campaign id, buy ids)."""
    campaign_id = new_id("cmp")
    conn.execute(Q["insert_campaign"], {"id": campaign_id, "advertiser_id": advertiser_id, "name": name, "status": status})
    buy_ids = []
    for buy in buys:
        buy_id = new_id("mb")
        conn.execute(
            Q["insert_buy"],
            {
                "id": buy_id,
                "campaign_id": campaign_id,
                "sales_agent_id": buy.sales_agent_id,
                "adcp_media_buy_id": buy.adcp_media_buy_id,
                "adcp_task_id": buy.adcp_task_id,
                "status": buy.status,
                "adcp_status": buy.adcp_status,
                "status_as_of": buy.status_as_of,
                "poll_in": next_poll_in(buy.status, None, "submitted"),
                "poll_reason": "submitted",
            },
        )
        buy_ids.append(buy_id)
    conn.execute(Q["start_versioning"], {"id": campaign_id})
    recompute_rollup(conn, campaign_id)
    return campaign_id, buy_ids


@dataclass(frozen=True)
class Surfaced:
    """A recompute's result: the surfaced status, how many buys hold it, and the first few of them."""

    status: Status | None
    blockers: int
    first_blockers: tuple[str, ...]
    previous: str | None = None  # the surfaced status before this recompute
    changed: bool = False


def recompute_rollup(conn: psycopg.Connection, campaign_id: str, blockers_shown: int = 5) -> Surfaced | None:
    """Recompute and save the campaign's surfaced status; None when the campaign does not exist. A
    campaign whose flight is over with every buy done ends its lifecycle here too (COMPLETED).

    PostgreSQL counts the buys per status; the domain picks the most restrictive of those; the
    blockers are gathered and saved in the same statement (see campaigns.sql, save_rollup).
    """
    campaign = conn.execute(Q["lock_for_rollup"], {"campaign_id": campaign_id}).fetchone()
    if campaign is None:
        return None
    counts = conn.execute(Q["buy_status_counts"], {"campaign_id": campaign_id}).fetchall()
    if lifecycle.completes(campaign["status"], (row["status"] for row in counts), campaign["flight_end"],
                           datetime.now(timezone.utc)):
        conn.execute(Q["complete_campaign"], {"campaign_id": campaign_id,
                                              "from_statuses": sorted(lifecycle.COMPLETABLE_FROM)})
    status = most_restrictive(row["status"] for row in counts)
    surfaced = status.value if status else None
    saved = conn.execute(
        Q["save_rollup"],
        {"campaign_id": campaign_id, "surfaced_status": surfaced, "version": campaign["status_version"],
         "blockers_shown": blockers_shown},
    ).fetchone()
    if surfaced != campaign["surfaced_status"]:
        conn.execute(
            Q["record_surfaced_change"],
            {"campaign_id": campaign_id, "from_status": campaign["surfaced_status"], "to_status": surfaced},
        )
    return Surfaced(status, saved["blockers"], tuple(saved["first_blockers"] or ()), campaign["surfaced_status"],
                    surfaced != campaign["surfaced_status"])


def rollups_owed(conn: psycopg.Connection, limit: int = 1000) -> list[str]:
    return [row["id"] for row in conn.execute(Q["rollups_owed"], {"limit": limit}).fetchall()]


def completions_due(conn: psycopg.Connection, limit: int = 1000) -> list[str]:
    """Campaigns past their flight with every buy done whose lifecycle has not ended: a recompute ends it."""
    params = {"terminal": sorted(lifecycle.TERMINAL), "limit": limit}
    return [row["id"] for row in conn.execute(Q["completions_due"], params).fetchall()]


def campaign_view(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> dict | None:
    """The campaign as the buyer API shows it, or None if it is not this advertiser's: its row, its
    products and creatives, and its media buys, each with its packages (under "packages")."""
    campaign = conn.execute(Q["get_for_advertiser"], {"campaign_id": campaign_id, "advertiser_id": advertiser_id}).fetchone()
    if campaign is None:
        return None
    params = {"campaign_id": campaign_id}
    buys = conn.execute(Q["buys_of_campaign"], params).fetchall()
    packages: dict[str, list[dict]] = {}
    for package in conn.execute(Q["packages_of_campaign"], params):
        packages.setdefault(package["media_buy_id"], []).append(package)
    return {
        "campaign": campaign,
        "products": conn.execute(Q["products_of_campaign"], params).fetchall(),
        "creatives": conn.execute(Q["creatives_of_campaign"], params).fetchall(),
        "media_buys": [{**buy, "packages": packages.get(buy["id"], [])} for buy in buys],
    }


@dataclass(frozen=True)
class PlannedProduct:
    """A product the buyer selected; pacing_periods as JSON: [{label, startTime, endTime, budget?}]."""

    sales_agent_id: str
    product_id: str
    budget: Decimal
    formats: list[str]
    pacing: str | None = None
    bid_price: Decimal | None = None
    pricing_option_id: str | None = None
    pacing_periods: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedCreative:
    creative_id: str
    format: str
    name: str | None = None


@dataclass(frozen=True)
class Plan:
    """A DRAFT campaign as the buyer sends it; the JSON parts are stored as given."""

    advertiser_id: str
    name: str
    flight_start: datetime
    flight_end: datetime
    budget_total: Decimal
    currency: str
    products: list[PlannedProduct]
    creatives: list[PlannedCreative]
    daily_cap: Decimal | None = None
    pacing: str | None = None
    property_list: dict | None = None
    frequency_caps: list[dict] = field(default_factory=list)
    optimization_goals: list[dict] = field(default_factory=list)


def registered_agents(conn: psycopg.Connection, agent_ids: list[str]) -> set[str]:
    """Those of `agent_ids` that are registered sales agents, and not disabled."""
    return {row["id"] for row in conn.execute(Q["registered_agents"], {"agent_ids": list(agent_ids)})}


def create_plan(conn: psycopg.Connection, plan: Plan) -> str:
    """A DRAFT campaign with its products and creative manifest (no media buys: execute makes them).
    Returns its id. Call it inside the caller's transaction: all of it is stored, or nothing."""
    campaign_id = new_id("cmp")
    conn.execute(Q["insert_plan"], {
        "id": campaign_id, "advertiser_id": plan.advertiser_id, "name": plan.name,
        "flight_start": plan.flight_start, "flight_end": plan.flight_end,
        "budget_total": plan.budget_total, "currency": plan.currency, "daily_cap": plan.daily_cap,
        "pacing": plan.pacing,
        "property_list": Jsonb(plan.property_list) if plan.property_list is not None else None,
        "frequency_caps": Jsonb(plan.frequency_caps), "optimization_goals": Jsonb(plan.optimization_goals),
    })
    with conn.cursor() as cur:
        cur.executemany(Q["insert_product"], [
            {"campaign_id": campaign_id, "position": position, "sales_agent_id": p.sales_agent_id,
             "product_id": p.product_id, "budget": p.budget, "pacing": p.pacing, "bid_price": p.bid_price,
             "pricing_option_id": p.pricing_option_id, "formats": list(p.formats),
             "pacing_periods": Jsonb(p.pacing_periods)}
            for position, p in enumerate(plan.products)
        ])
        if plan.creatives:
            cur.executemany(Q["insert_creative"], [
                {"campaign_id": campaign_id, "creative_id": c.creative_id, "format": c.format, "name": c.name}
                for c in plan.creatives
            ])
    return campaign_id


def list_campaigns(
    conn: psycopg.Connection,
    advertiser_id: str,
    *,
    limit: int,
    offset: int = 0,
    status: str | None = None,
    lifecycle: str | None = None,
    after: tuple[datetime, str] | None = None,
) -> tuple[list[dict], int]:
    """One page of the advertiser's campaigns, newest first, and how many match in all.

    `status` filters on the reported status (the buys' rollup, or the lifecycle while there are no
    buys), `lifecycle` on the buyer's lifecycle; archived campaigns only when a filter names ARCHIVED.

    `after` is the (created_at, id) of the last campaign of the previous page (a cursor); `limit + 1`
    rows are read so the caller can tell whether another page follows.
    """
    after_created_at, after_id = after or (None, None)
    params = {"advertiser_id": advertiser_id, "status": status, "lifecycle": lifecycle, "limit": limit + 1, "offset": offset,
              "after_created_at": after_created_at, "after_id": after_id}
    rows = conn.execute(Q["list_for_advertiser"], params).fetchall()
    total = conn.execute(Q["count_for_advertiser"], params).fetchone()["total"]
    return rows, total


# --- what the buyer's actions change on the campaign row ----------------------------------------------


def set_status(conn: psycopg.Connection, campaign_id: str, status: str, executed: bool = False) -> None:
    conn.execute(Q["set_campaign_status"], {"campaign_id": campaign_id, "status": status, "executed": executed})


def bump(conn: psycopg.Connection, campaign_id: str) -> None:
    """The campaign's buys changed: its rollup is owed (campaigns.status_version)."""
    conn.execute(Q["bump_campaign"], {"campaign_id": campaign_id})


def update_campaign(conn: psycopg.Connection, campaign_id: str, *, name: str | None = None,
                    budget: dict | None = None, frequency_caps: list | None = None,
                    property_list: dict | None = None, set_property_list: bool = False) -> None:
    """The fields given; None keeps the stored value. A budget changes only the keys it names (dailyCap
    and pacing named as null clear them)."""
    conn.execute(Q["update_campaign"], {
        "campaign_id": campaign_id, "name": name,
        "budget_total": budget["total"] if budget else None, "currency": budget.get("currency") if budget else None,
        "set_daily_cap": budget is not None and "dailyCap" in budget,
        "set_pacing": budget is not None and "pacing" in budget,
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


def advertiser_caps(conn: psycopg.Connection, advertiser_id: str) -> list[dict]:
    row = conn.execute(Q["advertiser_caps"], {"advertiser_id": advertiser_id}).fetchone()
    return row["frequency_caps"] if row else []


def set_advertiser_caps(conn: psycopg.Connection, advertiser_id: str, caps: list[dict]) -> None:
    conn.execute(Q["upsert_advertiser_caps"], {"advertiser_id": advertiser_id, "frequency_caps": Jsonb(caps)})


def advertiser_brand(conn: psycopg.Connection, advertiser_id: str) -> str | None:
    """The brand domain the advertiser's buys are for (None: not set)."""
    row = conn.execute(Q["advertiser_brand"], {"advertiser_id": advertiser_id}).fetchone()
    return row["brand_domain"] if row else None


def advertisers_with_brand(conn: psycopg.Connection) -> dict[str, str]:
    """{advertiser id: its brand domain} of every advertiser that has one."""
    return {row["id"]: row["brand_domain"] for row in conn.execute(Q["advertisers_with_brand"])}


def set_advertiser_brand(conn: psycopg.Connection, advertiser_id: str, brand_domain: str) -> None:
    conn.execute(Q["set_advertiser_brand"], {"advertiser_id": advertiser_id, "brand_domain": brand_domain})


def with_buys_at_agents(conn: psycopg.Connection, advertiser_id: str, statuses: list[str]) -> list[str]:
    """The advertiser's campaigns with a buy in one of these statuses, locked in id order."""
    return [row["id"] for row in conn.execute(Q["campaigns_with_buys_at_agents"],
                                               {"advertiser_id": advertiser_id, "statuses": statuses})]


# --- the live media-buy-status query's window -------------------------------------------------------


def claim_status_query(conn: psycopg.Connection, campaign_id: str, advertiser_id: str, window: float) -> bool:
    """True if the advertiser's campaign may be queried now (at most once per `window` seconds)."""
    params = {"campaign_id": campaign_id, "advertiser_id": advertiser_id, "window": window}
    return conn.execute(Q["claim_status_query"], params).fetchone() is not None


def status_query_retry_after(conn: psycopg.Connection, campaign_id: str, advertiser_id: str,
                             window: float) -> int | None:
    """Seconds until the campaign may be queried again; None when it is not this advertiser's."""
    params = {"campaign_id": campaign_id, "advertiser_id": advertiser_id, "window": window}
    row = conn.execute(Q["status_query_retry_after"], params).fetchone()
    return None if row is None else max(1, row["seconds"] or 1)


def release_status_query(conn: psycopg.Connection, campaign_id: str) -> None:
    conn.execute(Q["release_status_query"], {"campaign_id": campaign_id})
