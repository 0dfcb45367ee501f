"""Turning one inbox event into media-buy status changes, exactly once.

Everything for one event happens in one transaction: lock the event (skip it if already done), lock
each buy it reports on, apply or record each report, mark the event processed. A worker that dies
half-way leaves nothing behind, and the redelivered task starts over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..adcp.payloads import load_webhook
from ..domain.reports import Outcome, creative_reviews_from_webhook, deliveries_from_webhook, reports_from_webhook
from ..store import actions, inbox
from ..store.db import queries, transaction
from .delivery import apply_delivery, apply_reviews, buys_for_reviews
from .status_path import UnknownMediaBuy, apply_report

QB = queries("media_buys")

__all__ = ["Processed", "UnknownMediaBuy", "process_event", "record_failure"]


@dataclass
class Processed:
    event_id: int
    outcome: str
    campaigns_changed: set[str] = field(default_factory=set)


def process_event(event_id: int) -> Processed:
    """Apply one inbox event. Raises on failure, leaving the event as it was.

    In pipeline mode: a statement whose answer we don't read (the ledger row, the campaign's bump,
    the event marked processed, the commit) is sent with the next one we do read, so an event costs
    four round trips to PostgreSQL instead of nine. The transaction is the same.
    """
    with transaction() as conn, conn.pipeline():
        event = inbox.lock_event(conn, event_id)
        if event is None or event["state"] != "received":
            return Processed(event_id, "already-" + (event["state"] if event else "missing"))
        payload = load_webhook(json.loads(event["raw_body"]))
        reports = reports_from_webhook(payload)
        outcomes, changed, buy_of = [], set(), {}
        # Buys are locked in a fixed order so that two events touching the same buys can't deadlock.
        for report in sorted(reports, key=lambda r: (r.adcp_media_buy_id or "", r.task_id or "")):
            applied = apply_report(conn, event["agent_id"], report, source="webhook", event_id=event_id)
            outcomes.append(applied.outcome)
            buy_of[report.adcp_media_buy_id] = applied.buy_id
            if applied.outcome == Outcome.APPLIED:
                changed.add(applied.campaign_id)
        for delivery in deliveries_from_webhook(payload):  # the buys are locked by now
            apply_delivery(conn, buy_of[delivery.adcp_media_buy_id], delivery)
        result = payload.get("result") or {}
        if payload["task_type"] == "create_media_buy" and result.get("packages") and result.get("media_buy_id") in buy_of:
            # the agent's package ids: what later updates and delivery reports name the packages by
            actions.learn_from_agent(conn, buy_of[result["media_buy_id"]], result["packages"])
        reviews = creative_reviews_from_webhook(payload)
        if reviews:
            buys = buys_for_reviews(conn, event["agent_id"], payload, reviews)
            apply_reviews(conn, buys, reviews, payload["timestamp"], event_id)
            outcomes.append("creatives" if buys else "creatives-unmatched")
        if changed:
            conn.execute(QB["bump_campaigns"], {"campaign_ids": sorted(changed)})
        summary = ",".join(sorted(set(outcomes))) if outcomes else f"no-status:{payload['task_type']}"
        inbox.mark_processed(conn, event_id, summary)
        conn.commit()  # inside the pipeline: sent with the writes before it
    return Processed(event_id, summary, changed)


def record_failure(event_id: int, error: BaseException, max_attempts: int) -> dict | None:
    """Count a failed attempt in its own transaction; returns {attempts, state}."""
    with transaction() as conn:
        return inbox.record_failure(conn, event_id, f"{type(error).__name__}: {error}", max_attempts)
