"""Campaigns, their media buys, and the surfaced status kept on the campaign row."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ..domain.polling import next_poll_in
from ..domain.rollup import Rollup, rollup
from ..domain.statuses import Status
from .db import queries

Q = queries("campaigns")
QB = queries("media_buys")


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
    conn: psycopg.Connection, advertiser_id: str, name: str, buys: list[NewBuy], status: str = "DRAFT"
) -> tuple[str, list[str]]:
    """A campaign with its media buys, its rollup computed. Returns (campaign id, buy ids)."""
    campaign_id = new_id("cmp")
    conn.execute(Q["insert_campaign"], {"id": campaign_id, "advertiser_id": advertiser_id, "name": name, "status": status})
    buy_ids = []
    for buy in buys:
        buy_id = new_id("mb")
        conn.execute(
            QB["insert_buy"],
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
    conn.execute(
        "UPDATE campaigns SET status_version = 1 WHERE id = %(id)s", {"id": campaign_id}
    )
    recompute_rollup(conn, campaign_id)
    return campaign_id, buy_ids


def recompute_rollup(conn: psycopg.Connection, campaign_id: str) -> Rollup | None:
    """Recompute and save the campaign's surfaced status; None when the campaign does not exist."""
    campaign = conn.execute(Q["lock_for_rollup"], {"campaign_id": campaign_id}).fetchone()
    if campaign is None:
        return None
    buys = conn.execute(Q["buy_statuses"], {"campaign_id": campaign_id}).fetchall()
    result = rollup((buy["id"], buy["status"]) for buy in buys)
    surfaced = result.status.value if result.status else None
    conn.execute(
        Q["save_rollup"],
        {
            "campaign_id": campaign_id,
            "surfaced_status": surfaced,
            "blockers": list(result.blockers),
            "version": campaign["status_version"],
        },
    )
    if surfaced != campaign["surfaced_status"]:
        conn.execute(
            Q["record_surfaced_change"],
            {"campaign_id": campaign_id, "from_status": campaign["surfaced_status"], "to_status": surfaced},
        )
    return result


def rollups_owed(conn: psycopg.Connection, limit: int = 1000) -> list[str]:
    return [row["id"] for row in conn.execute(Q["rollups_owed"], {"limit": limit}).fetchall()]


def campaign_view(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> dict | None:
    """The campaign as the buyer API shows it, or None if it is not this advertiser's."""
    campaign = conn.execute(Q["get_for_advertiser"], {"campaign_id": campaign_id, "advertiser_id": advertiser_id}).fetchone()
    if campaign is None:
        return None
    buys = conn.execute(Q["buys_of_campaign"], {"campaign_id": campaign_id}).fetchall()
    return {"campaign": campaign, "media_buys": buys}
