"""store: the buyer's reads — a media buy with its packages, a page of an advertiser's media buys, and a
campaign's status timeline from the ledger. Scoped to the advertiser: another's rows are not found."""

from __future__ import annotations

from datetime import datetime

import psycopg

from .db import queries

Q = queries("buyer_reads")


def media_buy(conn: psycopg.Connection, buy_id: str, advertiser_id: str) -> dict | None:
    """The buy with its packages (under "packages"), or None if it is not this advertiser's."""
    buy = conn.execute(Q["media_buy_for_advertiser"], {"id": buy_id, "advertiser_id": advertiser_id}).fetchone()
    if buy is None:
        return None
    return with_packages(conn, [buy])[0]


def media_buys(conn: psycopg.Connection, advertiser_id: str, *, limit: int, status: str | None = None,
               campaign_id: str | None = None, sales_agent_id: str | None = None,
               after: tuple[datetime, str] | None = None) -> list[dict]:
    """Up to limit + 1 buys, newest first, after the cursor (created_at, id); each with its packages."""
    after_at, after_id = after if after else (None, None)
    rows = conn.execute(Q["media_buys_for_advertiser"], {
        "advertiser_id": advertiser_id, "status": status, "campaign_id": campaign_id,
        "sales_agent_id": sales_agent_id, "after_at": after_at, "after_id": after_id, "limit": limit}).fetchall()
    return with_packages(conn, rows)


def with_packages(conn: psycopg.Connection, buys: list[dict]) -> list[dict]:
    packages: dict[str, list[dict]] = {}
    if buys:
        for package in conn.execute(Q["packages_of_buys"], {"ids": [b["id"] for b in buys]}):
            packages.setdefault(package["media_buy_id"], []).append(package)
    return [{**buy, "packages": packages.get(buy["id"], [])} for buy in buys]


def campaign_of(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> str | None:
    """The campaign's id if it is this advertiser's, else None."""
    row = conn.execute(Q["campaign_of_advertiser"], {"id": campaign_id, "advertiser_id": advertiser_id}).fetchone()
    return row["id"] if row else None


def campaign_history(conn: psycopg.Connection, campaign_id: str, *, limit: int,
                     before_id: int | None = None) -> list[dict]:
    """Up to limit + 1 applied status changes of the campaign's buys and its surfaced status, newest first,
    older than the ledger row before_id. The caller has checked the campaign is the advertiser's."""
    buy_ids = [row["id"] for row in conn.execute(Q["campaign_buy_ids"], {"campaign_id": campaign_id})]
    return conn.execute(Q["campaign_history"], {"entity_ids": [campaign_id, *buy_ids], "before_id": before_id,
                                                "limit": limit}).fetchall()
