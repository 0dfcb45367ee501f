"""store: delivery figures of media buys and packages, and the sellers' reviews of our creatives."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from .db import queries

Q = queries("delivery")


def record_buy_totals(conn: psycopg.Connection, buy_id: str, as_of: datetime, impressions: int | None,
                      spend, clicks: int | None) -> None:
    """Cumulative totals, kept only when newer than what the buy shows."""
    conn.execute(Q["record_buy_delivery"], {"buy_id": buy_id, "as_of": as_of, "impressions": impressions,
                                            "spend": spend, "clicks": clicks})


def record_package_totals(conn: psycopg.Connection, buy_id: str, as_of: datetime, by_package: dict) -> None:
    """{package id (the agent's or ours): totals with impressions, spend, clicks}, each kept when newer."""
    ids = sorted(by_package)
    conn.execute(Q["record_package_delivery"], {
        "buy_id": buy_id, "as_of": as_of, "package_ids": ids,
        "impressions": [by_package[i].impressions for i in ids],
        "spend": [by_package[i].spend for i in ids],
        "clicks": [by_package[i].clicks for i in ids],
    })


def buy_for_task(conn: psycopg.Connection, agent_id: str, operation_id: str | None, task_id: str | None) -> str | None:
    """The agent's buy a task webhook is about: our id echoed as operation_id, or the agent's task id."""
    row = conn.execute(Q["buy_for_task"], {"agent_id": agent_id, "operation_id": operation_id,
                                           "task_id": task_id}).fetchone()
    return row["id"] if row else None


def buys_for_packages(conn: psycopg.Connection, agent_id: str, package_ids: list[str]) -> list[str]:
    """The agent's buys owning these packages (named by the agent's ids or ours)."""
    return [r["id"] for r in conn.execute(Q["buys_for_packages"], {"agent_id": agent_id, "package_ids": package_ids})]


def record_creative_review(conn: psycopg.Connection, buy_id: str, creative_id: str, action: str | None,
                           status: str | None, assigned_to: list[str], errors: list | None, as_of,
                           event_id: int | None) -> None:
    """What the seller said of one creative on one buy, kept when newer than what we have."""
    conn.execute(Q["record_creative_review"], {
        "buy_id": buy_id, "creative_id": creative_id, "action": action, "status": status,
        "assigned_to": assigned_to, "errors": Jsonb(errors) if errors else None, "as_of": as_of,
        "event_id": event_id,
    })
