"""store: notifications to the buyer's systems — subscriptions (their secrets sealed), the outbox of
events, one delivery per (event, subscription), and each delivery's attempts. SQL in sql/notifications.sql."""

from __future__ import annotations

import secrets
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from . import secretbox
from .db import queries

Q = queries("notifications")


def new_subscription_id() -> str:
    return "whsub_" + secrets.token_hex(8)


def create_subscription(conn: psycopg.Connection, advertiser_id: str, url: str, event_types: list[str],
                        secret: str, description: str | None) -> dict:
    return conn.execute(Q["create_subscription"], {
        "id": new_subscription_id(), "advertiser_id": advertiser_id, "url": url, "event_types": event_types,
        "secret_sealed": secretbox.seal(secret), "description": description,
    }).fetchone()


def list_subscriptions(conn: psycopg.Connection, advertiser_id: str) -> list[dict]:
    return conn.execute(Q["list_subscriptions"], {"advertiser_id": advertiser_id}).fetchall()


def get_subscription(conn: psycopg.Connection, advertiser_id: str, subscription_id: str) -> dict | None:
    return conn.execute(Q["get_subscription"], {"id": subscription_id, "advertiser_id": advertiser_id}).fetchone()


def delete_subscription(conn: psycopg.Connection, advertiser_id: str, subscription_id: str) -> bool:
    return conn.execute(Q["delete_subscription"], {"id": subscription_id, "advertiser_id": advertiser_id}).fetchone() is not None


def emit(conn: psycopg.Connection, campaign_id: str, event_type: str, payload: dict,
         dedupe_key: str | None = None) -> psycopg.Cursor:
    """Write an event about the campaign and its deliveries, in the caller's transaction; nothing when
    no active subscription of its advertiser wants the type. Returns the cursor of the deliveries'
    ids, not read here (pipeline-safe): the caller reads it when it may."""
    return conn.execute(Q["emit"], {"campaign_id": campaign_id, "event_type": event_type,
                             "event_id": "msg_" + secrets.token_hex(12), "payload": Jsonb(payload),
                             "dedupe_key": dedupe_key})


def claim_due(conn: psycopg.Connection, limit: int, lease_seconds: float) -> list[dict]:
    """Due deliveries with what sending them needs (the secret opened), leased for `lease_seconds`."""
    rows = conn.execute(Q["claim_due"], {"limit": limit, "lease": lease_seconds}).fetchall()
    for row in rows:
        row["secret"] = secretbox.open_sealed(row.pop("secret_sealed"))
    return rows


def finish_attempt(conn: psycopg.Connection, delivery_id: int, state: str, delay_seconds: float,
                   attempted_at: datetime, status_code: int | None, error: str | None, duration_ms: int) -> bool:
    """Record an attempt and the delivery's new state; False when the delivery was gone or settled."""
    row = conn.execute(Q["finish_attempt"], {
        "id": delivery_id, "state": state, "delay": delay_seconds, "attempted_at": attempted_at,
        "status_code": status_code, "error": error, "duration_ms": duration_ms,
    }).fetchone()
    return row is not None


def disable_subscription(conn: psycopg.Connection, subscription_id: str, reason: str) -> None:
    conn.execute(Q["disable_subscription"], {"id": subscription_id, "reason": reason})


def list_deliveries(conn: psycopg.Connection, subscription_id: str, limit: int, before: int | None,
                    state: str | None) -> list[dict]:
    """A page of the subscription's deliveries, newest first, each with its attempts (oldest first) under "attempt_log"."""
    rows = conn.execute(Q["list_deliveries"], {"subscription_id": subscription_id, "limit": limit,
                                               "before": before, "state": state}).fetchall()
    attempts: dict[int, list[dict]] = {}
    if rows:
        for attempt in conn.execute(Q["attempts_of"], {"delivery_ids": [row["id"] for row in rows]}):
            attempts.setdefault(attempt.pop("delivery_id"), []).append(attempt)
    return [{**row, "attempt_log": attempts.get(row["id"], [])} for row in rows]


def replay(conn: psycopg.Connection, subscription_id: str, delivery_ids: list[int]) -> list[int]:
    """Make the deliveries due now with fresh attempts; the ids that are the subscription's."""
    return [row["id"] for row in conn.execute(Q["replay"], {"subscription_id": subscription_id,
                                                            "delivery_ids": delivery_ids})]


def replayable_between(conn: psycopg.Connection, subscription_id: str, since: datetime, until: datetime,
                       states: list[str], limit: int) -> list[int]:
    return [row["id"] for row in conn.execute(Q["replayable_between"], {
        "subscription_id": subscription_id, "since": since, "until": until, "states": states, "limit": limit})]


def cancel_stray(conn: psycopg.Connection) -> int:
    return conn.execute(Q["cancel_stray"]).rowcount


def any_due(conn: psycopg.Connection) -> bool:
    return conn.execute(Q["any_due"]).fetchone()["due"]


def track_health(conn: psycopg.Connection, campaign_id: str, blocked_status: str | None) -> datetime | None:
    """Keep since when the campaign is blocked (None: it is not); when it had been declared unhealthy
    before this change, that moment (the caller sends campaign.healthy if it is no longer blocked)."""
    return conn.execute(Q["track_health"], {"campaign_id": campaign_id,
                                            "blocked_status": blocked_status}).fetchone()["was_unhealthy_at"]


def claim_unhealthy(conn: psycopg.Connection, threshold_seconds: float, limit: int = 500) -> list[dict]:
    return conn.execute(Q["claim_unhealthy"], {"threshold": threshold_seconds, "limit": limit}).fetchall()


def purge_events(conn: psycopg.Connection, older_than_seconds: float, limit: int = 1000) -> int:
    return conn.execute(Q["purge_events"], {"older_than": older_than_seconds, "limit": limit}).rowcount


def reseal_secrets(conn: psycopg.Connection) -> int:
    """Seal every subscription's secret again with the first key of MEDIABUY_SECRETS_KEY (key rotation,
    with the agents' secrets: `mediabuy-sync secrets rotate`); returns how many."""
    rows = conn.execute(Q["sealed_secrets"]).fetchall()
    for row in rows:
        conn.execute(Q["store_sealed"], {"id": row["id"], "secret_sealed": secretbox.reseal(row["secret_sealed"])})
    return len(rows)


def dead_event(conn: psycopg.Connection, event_id: int) -> dict | None:
    return conn.execute(Q["dead_event"], {"event_id": event_id}).fetchone()


def campaigns_of_reports(conn: psycopg.Connection, agent_id: str, adcp_media_buy_ids: list[str],
                         operation_ids: list[str], task_ids: list[str]) -> list[str]:
    return [row["campaign_id"] for row in conn.execute(Q["campaigns_of_reports"], {
        "agent_id": agent_id, "adcp_media_buy_ids": adcp_media_buy_ids, "operation_ids": operation_ids,
        "task_ids": task_ids})]
