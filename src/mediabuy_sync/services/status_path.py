"""services: the one path every status report takes, whether a webhook, a poll or an answer brought it.

Lock the buy (among the reporting agent's buys only), decide with the domain's guard, apply or
record, and plan the buy's next poll. The caller owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import psycopg

from .. import logs, metrics
from ..domain.polling import SOON, next_poll_in
from ..domain.reports import Outcome, Source, StatusReport, decide, is_suspicious
from ..domain.statuses import Status
from ..store import media_buys
from ..store.db import after_commit
from . import notifications

log = logging.getLogger(__name__)


class UnknownMediaBuy(Exception):
    """A report names no buy of this agent we know (yet: the create may still be committing)."""


@dataclass(frozen=True)
class Applied:
    outcome: str  # an Outcome value, or "no-status"
    buy_id: str
    campaign_id: str
    from_status: str
    to_status: str  # the buy's status after the report
    from_adcp_status: str | None
    to_adcp_status: str | None


def apply_report(
    conn: psycopg.Connection,
    agent_id: str,
    report: StatusReport,
    source: str,
    event_id: int | None = None,
    record_noops: bool = True,
) -> Applied:
    """Apply (or record) one status report about one of the agent's buys.

    `record_noops=False` (polls) leaves no ledger row for reports that change nothing, so that
    thousands of routine polls don't bury the changes.
    """
    buy = media_buys.lock_for_report(conn, agent_id, report.adcp_media_buy_id, report.operation_id, report.task_id)
    if buy is None:
        raise UnknownMediaBuy(
            f"agent {agent_id}: no media buy with adcp id {report.adcp_media_buy_id!r}, "
            f"operation {report.operation_id!r} or task {report.task_id!r}"
        )
    logs.bind(agent_id=agent_id, campaign_id=buy["campaign_id"], media_buy_id=buy["id"])  # this task's log lines
    current = Status(buy["status"])
    if report.status is None:
        outcome, after, after_adcp = "no-status", current, buy["adcp_status"]
    else:
        outcome = decide(current, buy["status_as_of"], report.status, report.as_of).value
        if (outcome == Outcome.APPLIED and source == Source.WEBHOOK
                and is_suspicious(current, report.status, report.as_of, buy["flight_end"])):
            outcome = Outcome.ANOMALY.value  # recorded, not applied: a reconcile poll reads the seller's state
        after = report.status if outcome == Outcome.APPLIED else current
        after_adcp = report.adcp_status if outcome in (Outcome.APPLIED, Outcome.UNCHANGED) else buy["adcp_status"]
    moved = None
    if outcome in (Outcome.APPLIED, Outcome.UNCHANGED):
        moved = media_buys.set_status(conn, buy["id"], buy["status"], report.status.value, report.adcp_status,
                                      report.as_of, report.adcp_media_buy_id, report.message)
        # its guard is checked below, after the ledger writes: see the pipeline note at the end
    elif outcome == Outcome.ANOMALY:
        log.warning("anomaly: media buy %s reported %s while %s; reconcile poll planned",
                    buy["id"], report.status.value, current.value)
    anomaly = f"anomaly {current.value}->{report.status.value}" if outcome == Outcome.ANOMALY else None
    if source == Source.WEBHOOK:
        # A webhook is news from the agent: polling relaxes, or comes soon to reconcile an anomaly.
        delay = next_poll_in(after, 0.0, "anomaly" if anomaly else None)
        media_buys.heard_by_webhook(conn, buy["id"], delay, anomaly, report.adcp_media_buy_id)
    elif anomaly:
        media_buys.request_reconcile(conn, buy["id"], SOON, anomaly)
    if report.status is not None and (record_noops or outcome in (Outcome.APPLIED, Outcome.ANOMALY)):
        media_buys.record_change(conn, buy["id"], current.value, report.status.value, report.adcp_status, source,
                                 event_id, outcome, report.as_of, report.message)
    notified = None
    if outcome == Outcome.APPLIED and report.status != current:
        # the outbox, in this transaction: the buyer's systems hear of it only if it commits
        notified = notifications.media_buy_status_changed(conn, buy["campaign_id"], buy["id"], current.value,
                                                          report.status.value, report.adcp_status, source, report.as_of)
    # counted once the transaction commits: a rolled-back batch, applied again event by event, counts once
    after_commit(partial(metrics.count_report, source, outcome, current.value, Status(after).value))
    # Read last: in a pipeline (ingest runs one) the writes above go to PostgreSQL together with this.
    if moved is not None and moved.fetchone() is None:  # impossible under the row lock; fail loudly
        raise RuntimeError(f"media buy {buy['id']} changed under its row lock")
    if notified is not None:
        notifications.wake_if_written(notified)
    return Applied(outcome, buy["id"], buy["campaign_id"], current.value, Status(after).value,
                   buy["adcp_status"], after_adcp)
