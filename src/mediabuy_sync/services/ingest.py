"""services: turning inbox events into media-buy status changes, exactly once.

Normally in batches (process_batch, an inbox drain): claim the oldest received events, lock the buys
they name, apply or record each report, mark each event processed, commit once. Alone when an event
is retried, swept or replayed (process_event): lock the event (skip it if already done), the same
steps. Either way a worker that dies half-way leaves nothing behind, and the redelivered task starts
over; an event is marked processed in the transaction that applied it, so it is applied once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Callable

import psycopg

from .. import logs
from ..adcp.payloads import load_webhook
from ..adcp.requests import match_packages
from ..domain.inbox import InboxState
from ..domain.polling import SOON
from ..domain.reports import (
    Outcome, Source, StatusReport, creative_reviews_from_webhook, deliveries_from_webhook, reports_from_webhook,
)
from ..domain.statuses import POLLED
from ..store import inbox, media_buys, polling
from ..store.db import transaction
from . import notifications
from .delivery import apply_delivery, apply_reviews, buys_for_reviews
from .status_path import UnknownMediaBuy, apply_report

log = logging.getLogger(__name__)

__all__ = ["Batch", "Processed", "UnknownMediaBuy", "process_batch", "process_event", "record_failure"]


@dataclass
class Processed:
    event_id: int
    outcome: str
    campaigns_changed: set[str] = field(default_factory=set)
    context: dict = field(default_factory=dict)  # its log context: request, event, agent, campaign, buy


def process_event(event_id: int) -> Processed:
    """Apply one inbox event on its own (a retry, a sweep, a replay). Raises on failure, leaving the
    event as it was.

    In pipeline mode: a statement whose answer we don't read (the ledger row, the campaign's bump,
    the event marked processed, the commit) is sent with the next one we do read, so an event costs
    four round trips to PostgreSQL instead of nine. The transaction is the same.
    """
    with transaction() as conn, conn.pipeline():
        event = inbox.lock_event(conn, event_id)
        if event is None or event["state"] != InboxState.RECEIVED:
            return Processed(event_id, "already-" + (event["state"] if event else "missing"))
        logs.bind(request_id=event["request_id"])  # the webhook's request: its lines follow it here too
        payload = load_webhook(json.loads(event["raw_body"]))
        summary, changed = _apply_event(conn, event, payload, reports_from_webhook(payload))
        if changed:
            media_buys.bump_campaigns(conn, sorted(changed))
        _mark(conn, event, summary)
        conn.commit()  # inside the pipeline: sent with the writes before it
    return Processed(event_id, summary, changed)


@dataclass
class Batch:
    processed: list[Processed] = field(default_factory=list)
    # campaign → the log context of the last event that changed it (for its recompute's lines)
    campaigns_changed: dict[str, dict] = field(default_factory=dict)
    # claimed, then rolled back with the batch: each is to go on alone (the ingest task)
    fallback: list[int] = field(default_factory=list)


def process_batch(limit: int, when_full: Callable[[], None] = lambda: None) -> Batch:
    """Apply up to `limit` received events in one transaction (an inbox drain).

    One commit and one Celery task for the lot, instead of one each: that is the worker's throughput
    (bench/: workers). The buys the events name are locked up front in id order, so concurrent
    batches queue behind each other rather than deadlock. If anything fails, the whole batch rolls
    back and its events are returned in `fallback`, to be applied one by one with their own retries:
    one bad event costs its batch a second try, never another event's effect. Raises only if no
    event could be claimed (PostgreSQL away).

    `when_full` is called as soon as a full batch is claimed (more may be waiting): the drain task
    queues the next drain then, so another worker process claims the next batch meanwhile.
    """
    batch, claimed = Batch(), []
    try:
        with transaction() as conn, conn.pipeline():
            events = inbox.claim_batch(conn, limit)
            claimed = [event["id"] for event in events]
            if not events:
                return batch
            if len(events) >= limit:
                when_full()
            parsed = []  # (event, payload, its status reports): each parsed once
            for event in events:
                payload = load_webhook(json.loads(event["raw_body"]))
                parsed.append((event, payload, reports_from_webhook(payload)))
            named = sorted({(event["agent_id"], report.adcp_media_buy_id) for event, _, reports in parsed
                            for report in reports if report.adcp_media_buy_id})
            media_buys.lock_for_batch(conn, named)
            for event, payload, reports in parsed:
                token = logs.bind(event_id=event["id"], request_id=event["request_id"], agent_id=event["agent_id"])
                try:
                    summary, changed = _apply_event(conn, event, payload, reports)
                    _mark(conn, event, summary)
                    batch.processed.append(Processed(event["id"], summary, changed, logs.current_context()))
                    for campaign_id in changed:
                        batch.campaigns_changed[campaign_id] = logs.current_context()
                finally:
                    logs.reset(token)
            if batch.campaigns_changed:
                media_buys.bump_campaigns(conn, sorted(batch.campaigns_changed))
            conn.commit()
    except Exception as exc:  # noqa: BLE001 - every claimed event goes on alone; none is lost
        if not claimed:
            raise
        log.warning("batch of %d events rolled back (%s: %s); each goes on alone", len(claimed), type(exc).__name__, exc)
        return Batch(fallback=claimed)
    for processed in batch.processed:  # once committed: each event's line, under its own request id
        token = logs.bind(**processed.context)
        log.info("event %s %s", processed.event_id, processed.outcome)
        logs.reset(token)
    return batch


def _apply_event(conn: psycopg.Connection, event: dict, payload: dict,
                 reports: list[StatusReport]) -> tuple[str, set[str]]:
    """One event's status reports (reports_from_webhook of its payload), deliveries and creative
    reviews, applied in the caller's transaction; returns (the event's outcome summary, the campaigns
    whose status changed)."""
    event_id = event["id"]
    outcomes, changed, buy_of = [], set(), {}
    # Buys are locked in a fixed order so that two events touching the same buys can't deadlock.
    for report in sorted(reports, key=lambda r: (r.adcp_media_buy_id or "", r.task_id or "")):
        try:
            applied = apply_report(conn, event["agent_id"], report, source=Source.WEBHOOK, event_id=event_id)
        except UnknownMediaBuy as exc:  # nothing was written for it: see _mark
            outcomes.append(f"{UNMATCHED}: {exc}")
            continue
        outcomes.append(applied.outcome)
        buy_of[report.adcp_media_buy_id] = applied.buy_id
        if applied.outcome == Outcome.APPLIED:
            changed.add(applied.campaign_id)
    for delivery in deliveries_from_webhook(payload):  # the buys are locked by now
        if delivery.adcp_media_buy_id in buy_of:
            apply_delivery(conn, buy_of[delivery.adcp_media_buy_id], delivery)
    result = payload.get("result") or {}
    if payload["task_type"] == "create_media_buy" and result.get("packages") and result.get("media_buy_id") in buy_of:
        # the agent's package ids: what later updates and delivery reports name the packages by
        learn_package_ids(conn, buy_of[result["media_buy_id"]], result["packages"])
    reviews = creative_reviews_from_webhook(payload)
    if reviews:
        buys = buys_for_reviews(conn, event["agent_id"], payload, reviews)
        apply_reviews(conn, buys, reviews, payload["timestamp"], event_id)
        outcomes.append("creatives" if buys else "creatives-unmatched")
    summary = ",".join(sorted(set(outcomes))) if outcomes else f"no-status:{payload['task_type']}"
    return summary, changed


UNMATCHED = "unmatched"  # an outcome summary that starts so: no buy of ours matched the event


def _mark(conn: psycopg.Connection, event: dict, summary: str) -> None:
    """The event processed — or, when it matched no buy of ours (UnknownMediaBuy for each of its
    reports), kept as unmatched with why: another attempt would find nothing more. Whatever it was
    about, its agent's unsettled buys are polled soon, in this transaction."""
    if summary.startswith(UNMATCHED):
        inbox.mark_unmatched(conn, event["id"], summary)
        polling.reconcile_agent(conn, event["agent_id"], sorted(POLLED), SOON, "unmatched webhook")
        log.warning("event %s matches no media buy of agent %s; its buys will be polled", event["id"], event["agent_id"])
    else:
        inbox.mark_processed(conn, event["id"], summary)


def learn_package_ids(conn: psycopg.Connection, buy_id: str, theirs: list[dict]) -> None:
    """The agent's ids of the buy's packages, matched from the packages it listed (a create's result)."""
    ours = [(p["id"], p["product_id"]) for p in media_buys.packages_of_buy(conn, buy_id)]
    media_buys.learn_package_ids(conn, buy_id, match_packages(ours, theirs))


def record_failure(event_id: int, error: BaseException, max_attempts: int) -> dict | None:
    """Count a failed attempt in its own transaction; returns {attempts, state}."""
    with transaction() as conn:
        failure = inbox.record_failure(conn, event_id, f"{type(error).__name__}: {error}", max_attempts)
        if failure is not None and failure["state"] == InboxState.DEAD:
            notifications.event_dead(conn, event_id)  # the buyer's systems hear of it, in this transaction
        return failure
