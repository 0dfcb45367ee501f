"""The one path every status report takes, whether a webhook or a poll brought it.

Lock the buy (among the reporting agent's buys only), decide with the domain's guard, apply or
record, and plan the buy's next poll. The caller owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import psycopg

from ..domain.polling import SOON, next_poll_in
from ..domain.reports import Outcome, StatusReport, decide
from ..domain.statuses import Status
from .. import logs, metrics
from ..store.db import after_commit, queries

log = logging.getLogger(__name__)
QB = queries("media_buys")


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
    logs.bind(agent_id=agent_id, campaign_id=buy["campaign_id"], media_buy_id=buy["id"])  # this task's log lines
    current = Status(buy["status"])
    if report.status is None:
        outcome, after, after_adcp = "no-status", current, buy["adcp_status"]
    else:
        outcome = decide(current, buy["status_as_of"], report.status, report.as_of).value
        after = report.status if outcome == Outcome.APPLIED else current
        after_adcp = report.adcp_status if outcome in (Outcome.APPLIED, Outcome.UNCHANGED) else buy["adcp_status"]
    moved = None
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
        )  # its guard is checked below, after the ledger writes: see the pipeline note at the end
    elif outcome == Outcome.ANOMALY:
        log.warning("anomaly: media buy %s reported %s while %s; reconcile poll planned",
                    buy["id"], report.status.value, current.value)
    if source == "webhook":
        # A webhook is news from the agent: polling relaxes, or comes soon to reconcile an anomaly.
        delay = next_poll_in(after, 0.0, "anomaly" if outcome == Outcome.ANOMALY else None)
        conn.execute(
            QB["heard_by_webhook"],
            {"id": buy["id"], "delay": delay, "reason": f"anomaly {current.value}->{report.status.value}"
             if outcome == Outcome.ANOMALY else None, "adcp_media_buy_id": report.adcp_media_buy_id},
        )
    elif outcome == Outcome.ANOMALY:
        conn.execute(QB["request_reconcile"], {"id": buy["id"], "delay": SOON,
                                               "reason": f"anomaly {current.value}->{report.status.value}"})
    if report.status is not None and (record_noops or outcome in (Outcome.APPLIED, Outcome.ANOMALY)):
        conn.execute(
            QB["record_change"],
            {
                "id": buy["id"],
                "from_status": current.value,
                "to_status": report.status.value,
                "adcp_status": report.adcp_status,
                "source": source,
                "event_id": event_id,
                "outcome": outcome,
                "as_of": report.as_of,
            },
        )
    # counted once the transaction commits: a rolled-back batch, applied again event by event, counts once
    after_commit(partial(metrics.count_report, source, outcome, current.value, Status(after).value))
    # Read last: in a pipeline (ingest runs one) the writes above go to PostgreSQL together with this.
    if moved is not None and moved.fetchone() is None:  # impossible under the row lock; fail loudly
        raise RuntimeError(f"media buy {buy['id']} changed under its row lock")
    return Applied(outcome, buy["id"], buy["campaign_id"], current.value, Status(after).value,
                   buy["adcp_status"], after_adcp)
