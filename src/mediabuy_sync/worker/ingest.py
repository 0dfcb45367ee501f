"""Turning one inbox event into media-buy status changes, exactly once.

Everything for one event happens in one transaction: lock the event (skip it if already done), lock
each buy it reports on, apply or record each report, mark the event processed. A worker that dies
half-way leaves nothing behind, and the redelivered task starts over.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import psycopg

from ..adcp.payloads import load_webhook
from ..domain.reports import Outcome, StatusReport, decide, reports_from_webhook
from ..domain.statuses import Status
from ..store import inbox
from ..store.db import queries, transaction

log = logging.getLogger(__name__)
QB = queries("media_buys")


class UnknownMediaBuy(Exception):
    """A report names no buy of this agent we know (yet: the create may still be committing)."""


@dataclass
class Processed:
    event_id: int
    outcome: str
    campaigns_changed: set[str] = field(default_factory=set)


def process_event(event_id: int) -> Processed:
    """Apply one inbox event. Raises on failure, leaving the event as it was."""
    with transaction() as conn:
        event = inbox.lock_event(conn, event_id)
        if event is None or event["state"] != "received":
            return Processed(event_id, "already-" + (event["state"] if event else "missing"))
        payload = load_webhook(json.loads(event["raw_body"]))
        reports = reports_from_webhook(payload)
        outcomes, changed = [], set()
        # Buys are locked in a fixed order so that two events touching the same buys can't deadlock.
        for report in sorted(reports, key=lambda r: (r.adcp_media_buy_id or "", r.task_id or "")):
            outcome, campaign_id = apply_report(conn, event["agent_id"], report, source="webhook", event_id=event_id)
            outcomes.append(outcome)
            if outcome == Outcome.APPLIED:
                changed.add(campaign_id)
        if changed:
            conn.execute(QB["bump_campaigns"], {"campaign_ids": sorted(changed)})
        summary = ",".join(sorted(set(outcomes))) if outcomes else f"no-status:{payload['task_type']}"
        inbox.mark_processed(conn, event_id, summary)
    return Processed(event_id, summary, changed)


def apply_report(
    conn: psycopg.Connection, agent_id: str, report: StatusReport, source: str, event_id: int | None = None
) -> tuple[str, str]:
    """Apply (or record) one status report about one of the agent's buys; returns (outcome, campaign id).

    A report without a status (a delivery still reporting, an update in progress) changes nothing.
    """
    buy = conn.execute(
        QB["lock_buy_for_report"],
        {
            "agent_id": agent_id,
            "adcp_media_buy_id": report.adcp_media_buy_id,
            "operation_id": report.operation_id,
            "task_id": report.task_id,
        },
    ).fetchone()
    if buy is None:
        raise UnknownMediaBuy(
            f"agent {agent_id}: no media buy with adcp id {report.adcp_media_buy_id!r}, "
            f"operation {report.operation_id!r} or task {report.task_id!r}"
        )
    if report.status is None:
        return "no-status", buy["campaign_id"]
    outcome = decide(Status(buy["status"]), buy["status_as_of"], report.status, report.as_of)
    if outcome in (Outcome.APPLIED, Outcome.UNCHANGED):
        moved = conn.execute(
            QB["set_status"],
            {
                "id": buy["id"],
                "from_status": buy["status"],
                "to_status": report.status.value,
                "adcp_status": report.adcp_status,
                "as_of": report.as_of,
                "adcp_media_buy_id": report.adcp_media_buy_id,
            },
        ).fetchone()
        if moved is None:  # impossible under the row lock; fail loudly rather than record a lie
            raise RuntimeError(f"media buy {buy['id']} changed under its row lock")
    elif outcome == Outcome.ANOMALY:
        conn.execute(
            QB["request_reconcile"],
            {"id": buy["id"], "reason": f"anomaly {buy['status']}->{report.status.value}", "adcp_media_buy_id": report.adcp_media_buy_id},
        )
        log.warning(
            "anomaly: media buy %s reported %s while %s; reconcile poll requested",
            buy["id"], report.status.value, buy["status"],
        )
    conn.execute(
        QB["record_change"],
        {
            "id": buy["id"],
            "from_status": buy["status"],
            "to_status": report.status.value,
            "adcp_status": report.adcp_status,
            "source": source,
            "event_id": event_id,
            "outcome": outcome.value,
            "as_of": report.as_of,
        },
    )
    return outcome.value, buy["campaign_id"]


def record_failure(event_id: int, error: BaseException, max_attempts: int) -> dict | None:
    """Count a failed attempt in its own transaction; returns {attempts, state}."""
    with transaction() as conn:
        return inbox.record_failure(conn, event_id, f"{type(error).__name__}: {error}", max_attempts)
