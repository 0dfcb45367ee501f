"""services: delivery figures and creative reviews from webhooks, applied inside the ingest transaction."""

from __future__ import annotations

import psycopg

from ..domain.reports import CreativeReview, DeliveryReport
from ..store import delivery


def apply_delivery(conn: psycopg.Connection, buy_id: str, report: DeliveryReport) -> None:
    """The buy's and its packages' totals, when newer than what they show."""
    if report.totals is not None:
        t = report.totals
        delivery.record_buy_totals(conn, buy_id, report.as_of, t.impressions, t.spend, t.clicks)
    if report.by_package:
        delivery.record_package_totals(conn, buy_id, report.as_of, report.by_package)


def buys_for_reviews(conn: psycopg.Connection, agent_id: str, payload: dict, reviews: list[CreativeReview]) -> list[str]:
    """Which of the agent's buys a sync_creatives result is about: the one we named in operation_id
    (or whose task it is), else the buys owning the packages the creatives were assigned to."""
    buy_id = delivery.buy_for_task(conn, agent_id, payload.get("operation_id"), payload.get("task_id"))
    if buy_id:
        return [buy_id]
    package_ids = sorted({p for r in reviews for p in r.assigned_to})
    return delivery.buys_for_packages(conn, agent_id, package_ids) if package_ids else []


def apply_reviews(conn: psycopg.Connection, buy_ids: list[str], reviews: list[CreativeReview], as_of, event_id: int | None) -> None:
    for buy_id in buy_ids:
        for review in reviews:
            delivery.record_creative_review(conn, buy_id, review.creative_id, review.action, review.status,
                                            list(review.assigned_to), list(review.errors), as_of, event_id)
