"""services: notifications to the buyer's systems, at their source — the outbox events written in the
transaction of the change that causes them (a buy's status, a campaign's surfaced status, a campaign
blocked too long), and the worker woken once that transaction commits.

A rolled-back change leaves no event; a committed one always has its deliveries, whatever happens to
the wake-up (beat's notification sweep finds them due). Delivering is services/notification_delivery.py.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import psycopg

from ..adcp.payloads import ValidationError, load_webhook
from ..config import settings
from ..domain.notifications import BLOCKED, EventType
from ..domain.reports import reports_from_webhook
from ..queue.names import DELIVER_NOTIFICATIONS
from ..store import notifications
from ..store.db import after_commit_once

log = logging.getLogger(__name__)


def _wake_delivery() -> None:
    """After the commit: a delivery task now rather than at the next sweep. Never fails the caller."""
    from ..queue.publisher import publisher  # the fail-fast sender (the broker away: the sweep delivers)

    try:
        publisher.send_task(DELIVER_NOTIFICATIONS)
    except Exception as exc:  # noqa: BLE001
        log.warning("notification delivery not queued (%s); beat's notification sweep will send it", exc)


def _emit(conn: psycopg.Connection, campaign_id: str, event_type: EventType, payload: dict,
          dedupe_key: str | None = None) -> psycopg.Cursor:
    return notifications.emit(conn, campaign_id, event_type.value, {"campaignId": campaign_id, **payload}, dedupe_key)


def wake_after_commit() -> None:
    """A delivery task once the caller's transaction commits (e.g. after a replay)."""
    after_commit_once(_wake_delivery)


def wake_if_written(emitted: psycopg.Cursor) -> None:
    """Once the emit's rows can be read (after a pipeline's last read): if it wrote deliveries, a
    delivery task after the commit — one per transaction, none when nobody subscribed."""
    if emitted.fetchall():
        after_commit_once(_wake_delivery)


def media_buy_status_changed(conn: psycopg.Connection, campaign_id: str, media_buy_id: str, previous: str,
                             status: str, adcp_status: str | None, source: str,
                             as_of: datetime | None) -> psycopg.Cursor:
    """A buy's status changed (services/status_path.py, in its transaction). Not read here: the caller
    passes the result to wake_if_written once its pipeline allows."""
    return _emit(conn, campaign_id, EventType.MEDIA_BUY_STATUS_CHANGED, {
        "mediaBuyId": media_buy_id, "previousStatus": previous, "status": status, "adcpStatus": adcp_status,
        "source": source, "asOf": as_of.isoformat() if as_of else None,
    })


def campaign_status_changed(conn: psycopg.Connection, campaign_id: str, previous: str | None, status: str | None,
                            blockers: int, first_blockers: tuple[str, ...]) -> None:
    """A rollup changed the campaign's surfaced status (services/rollups.py, in its transaction): the
    event, and the campaign's blocked clock (campaign.healthy when an unhealthy campaign clears)."""
    wake_if_written(_emit(conn, campaign_id, EventType.CAMPAIGN_STATUS_CHANGED, {
        "previousStatus": previous, "status": status, "blockerCount": blockers, "blockers": list(first_blockers),
    }))
    blocked = status if status in BLOCKED else None
    was_unhealthy_at = notifications.track_health(conn, campaign_id, blocked)
    if was_unhealthy_at is not None and blocked is None:
        wake_if_written(_emit(conn, campaign_id, EventType.CAMPAIGN_HEALTHY, {
            "status": status, "unhealthySince": was_unhealthy_at.isoformat(),
        }))


def sweep_health(conn: psycopg.Connection) -> int:
    """Beat: campaigns blocked longer than MEDIABUY_NOTIFY_BLOCKED_SECONDS are declared unhealthy, once
    each (campaign.unhealthy); they turn healthy at the rollup that unblocks them."""
    threshold = settings().notify_blocked_seconds
    late = notifications.claim_unhealthy(conn, threshold)
    for row in late:
        wake_if_written(_emit(conn, row["campaign_id"], EventType.CAMPAIGN_UNHEALTHY, {
            "reason": "blocked", "status": row["blocked_status"], "blockedSince": row["blocked_since"].isoformat(),
            "thresholdSeconds": threshold,
        }))
    return len(late)


def event_dead(conn: psycopg.Connection, event_id: int) -> int:
    """An agent's webhook failed every attempt (services/ingest.py, in the transaction that marks it
    dead): campaign.unhealthy (reason dead_event) for each campaign whose buys it names. Nothing when
    its body names no buy we know (or cannot be read: then nothing says whose it is). Returns how many."""
    event = notifications.dead_event(conn, event_id)
    if event is None:
        return 0
    named = _ids_named(event["raw_body"])
    if named is None:
        return 0
    campaign_ids = notifications.campaigns_of_reports(conn, event["agent_id"], *named)
    for campaign_id in campaign_ids:
        wake_if_written(_emit(conn, campaign_id, EventType.CAMPAIGN_UNHEALTHY, {
            "reason": "dead_event", "agentId": event["agent_id"], "eventId": event_id,
            "attempts": event["attempts"], "error": (event["last_error"] or "")[:500],
        }, dedupe_key=f"dead_event:{event_id}:{campaign_id}"))
    return len(campaign_ids)


def _ids_named(raw_body: str) -> tuple[list[str], list[str], list[str]] | None:
    """(agent media-buy ids, operation ids, task ids) a webhook names: read as the status path reads it,
    else — it may have died of not being valid ADCP — straight from its JSON; None when it is not JSON."""
    try:
        document = json.loads(raw_body)
    except ValueError:
        return None
    try:
        reports = reports_from_webhook(load_webhook(document))
        return ([r.adcp_media_buy_id for r in reports if r.adcp_media_buy_id],
                [r.operation_id for r in reports if r.operation_id], [r.task_id for r in reports if r.task_id])
    except (ValueError, ValidationError):
        if not isinstance(document, dict):
            return None
        result = document.get("result") if isinstance(document.get("result"), dict) else {}
        return tuple([v] if isinstance(v, str) and v else []
                     for v in (result.get("media_buy_id"), document.get("operation_id"), document.get("task_id")))


def agent_unreachable(conn: psycopg.Connection, campaign_id: str, agent_id: str, cascade_id: int, media_buy_id: str,
                      kind: str, message: str) -> None:
    """A buyer's action could not reach a sales agent after every attempt (services/cascade_jobs.py,
    in the transaction that fails the item): campaign.unhealthy (reason agent_unreachable), once per
    campaign, cascade and agent however many of its buys failed."""
    wake_if_written(_emit(conn, campaign_id, EventType.CAMPAIGN_UNHEALTHY, {
        "reason": "agent_unreachable", "agentId": agent_id, "cascadeId": cascade_id, "mediaBuyId": media_buy_id,
        "errorKind": kind, "error": message[:500],
    }, dedupe_key=f"agent_unreachable:{campaign_id}:{cascade_id}:{agent_id}"))
