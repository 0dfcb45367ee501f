"""services: notifications to the buyer's systems, at their source — the outbox events written in the
transaction of the change that causes them (a buy's status, a campaign's surfaced status, a campaign
blocked too long), and the worker woken once that transaction commits.

A rolled-back change leaves no event; a committed one always has its deliveries, whatever happens to
the wake-up (beat's notification sweep finds them due). Delivering is services/notification_delivery.py.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from ..config import settings
from ..domain.notifications import BLOCKED, EventType
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


def _emit(conn: psycopg.Connection, campaign_id: str, event_type: EventType, payload: dict) -> psycopg.Cursor:
    return notifications.emit(conn, campaign_id, event_type.value, {"campaignId": campaign_id, **payload})


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
