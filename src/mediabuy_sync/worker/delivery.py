"""Delivery figures and creative reviews from webhooks, applied inside the ingest transaction."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from ..domain.reports import CreativeReview, DeliveryReport
from ..store.db import queries

Q = queries("delivery")


def apply_delivery(conn: psycopg.Connection, buy_id: str, report: DeliveryReport) -> None:
    """The buy's and its packages' totals, when newer than what they show."""
    if report.totals is not None:
        t = report.totals
        conn.execute(Q["record_buy_delivery"], {"buy_id": buy_id, "as_of": report.as_of,
                                                "impressions": t.impressions, "spend": t.spend, "clicks": t.clicks})
    if report.by_package:
        ids = sorted(report.by_package)
        conn.execute(
            Q["record_package_delivery"],
            {
                "buy_id": buy_id,
                "as_of": report.as_of,
                "package_ids": ids,
                "impressions": [report.by_package[i].impressions for i in ids],
                "spend": [report.by_package[i].spend for i in ids],
                "clicks": [report.by_package[i].clicks for i in ids],
            },
        )


def buys_for_reviews(conn: psycopg.Connection, agent_id: str, payload: dict, reviews: list[CreativeReview]) -> list[str]:
    """Which of the agent's buys a sync_creatives result is about: the one we named in operation_id
    (or whose task it is), else the buys owning the packages the creatives were assigned to."""
    row = conn.execute(
        Q["buy_for_task"], {"agent_id": agent_id, "operation_id": payload.get("operation_id"), "task_id": payload.get("task_id")}
    ).fetchone()
    if row:
        return [row["id"]]
    package_ids = sorted({p for r in reviews for p in r.assigned_to})
    if not package_ids:
        return []
    return [r["id"] for r in conn.execute(Q["buys_for_packages"], {"agent_id": agent_id, "package_ids": package_ids})]


def apply_reviews(conn: psycopg.Connection, buy_ids: list[str], reviews: list[CreativeReview], as_of, event_id: int) -> None:
    for buy_id in buy_ids:
        for review in reviews:
            conn.execute(
                Q["record_creative_review"],
                {
                    "buy_id": buy_id,
                    "creative_id": review.creative_id,
                    "action": review.action,
                    "status": review.status,
                    "assigned_to": list(review.assigned_to),
                    "errors": Jsonb(list(review.errors)) if review.errors else None,
                    "as_of": as_of,
                    "event_id": event_id,
                },
            )
