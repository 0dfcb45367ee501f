"""services: delivering notifications to the buyer's systems — claim the due deliveries, POST each
signed as Standard Webhooks, record every attempt, and retry with backoff until delivered or given up.

Schedules live in PostgreSQL (DESIGN rule 5): a failed delivery is due again at its next_attempt_at
and beat's notification sweep picks it up; no task waits in the broker. A 410 Gone disables the
subscription. The deliveries' SQL: store/notifications.py.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import requests
from standardwebhooks.webhooks import Webhook

from .. import metrics
from ..config import settings
from ..domain.notifications import GONE, DeliveryState, gives_up, is_success, retry_delay
from ..queue.names import DELIVER_NOTIFICATIONS, SWEEP_NOTIFICATIONS
from ..store import notifications
from ..store.db import transaction
from ..store.periodic import claim_turn
from . import notifications as outbox

log = logging.getLogger(__name__)

# Deliveries one task sends at once: the POSTs mostly wait on the receivers.
CONCURRENCY = 16
# A task keeps claiming while deliveries are due, for at most this long (then the next wake-up or
# sweep carries on), so one busy task cannot hold its worker slot for ever.
TASK_BUDGET_SECONDS = 30.0
USER_AGENT = "mediabuy-sync-notifications/1"


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def body_of(event_type: str, created_at: datetime, payload: dict) -> bytes:
    """What a receiver gets: Standard Webhooks' recommended shape, {type, timestamp, data}."""
    return json.dumps({"type": event_type, "timestamp": created_at.astimezone(timezone.utc).isoformat(),
                       "data": payload}, separators=(",", ":")).encode()


def signed_headers(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers: webhook-id (the event's id, the same on retries and replays),
    webhook-timestamp (this attempt's) and webhook-signature (v1, HMAC-SHA256 of id.timestamp.body)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def post(url: str, headers: dict[str, str], body: bytes, timeout: float) -> Attempt:
    """One POST: its status, or the error that kept it from one. The answer's body is not read."""
    at = datetime.now(timezone.utc)
    started = time.monotonic()
    status_code, error = None, None
    try:
        with requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
                           stream=True) as answer:
            status_code = answer.status_code
            if not is_success(status_code):
                error = f"HTTP {status_code}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    return Attempt(at, status_code, error, round((time.monotonic() - started) * 1000))


def _send(delivery: dict, timeout: float) -> Attempt:
    body = body_of(delivery["event_type"], delivery["event_created_at"], delivery["payload"])
    at = datetime.now(timezone.utc)
    return post(delivery["url"], signed_headers(delivery["secret"], delivery["event_id"], at, body), body, timeout)


def _settle(delivery: dict, attempt: Attempt) -> str:
    """Record the attempt and decide the delivery's next state; returns that state."""
    s = settings()
    attempts = delivery["attempts"] + 1
    delay = 0.0
    if attempt.status_code is not None and is_success(attempt.status_code):
        state = DeliveryState.DELIVERED
    elif attempt.status_code == GONE:
        state = DeliveryState.FAILED
    elif gives_up(attempts, (attempt.at - delivery["window_started_at"]).total_seconds(),
                  s.notify_max_attempts, s.notify_retry_window_seconds):
        state = DeliveryState.FAILED
    else:
        state = DeliveryState.PENDING
        delay = retry_delay(attempts, s.notify_retry_base_seconds, s.notify_retry_max_delay_seconds)
    with transaction() as conn:
        recorded = notifications.finish_attempt(conn, delivery["id"], state.value, delay, attempt.at,
                                                attempt.status_code, attempt.error, attempt.duration_ms)
        if recorded and attempt.status_code == GONE:
            # the receiver says this endpoint is gone for good: nothing more goes to it
            notifications.disable_subscription(conn, delivery["subscription_id"],
                                               f"the receiver answered 410 Gone at {attempt.at.isoformat()}")
            log.warning("notification subscription %s disabled: its receiver answered 410", delivery["subscription_id"])
    return state.value


def deliver_due() -> dict[str, int]:
    """Claim and send due deliveries, a batch at a time, until none is due or the budget is spent.
    Returns how many ended in each state."""
    s = settings()
    lease = s.notify_timeout_seconds * 2 + 30  # past any POST's deadline: only a dead worker's claims expire
    counts: dict[str, int] = {}
    deadline = time.monotonic() + TASK_BUDGET_SECONDS
    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="notify") as pool:
        while time.monotonic() < deadline:
            with transaction() as conn:
                batch = notifications.claim_due(conn, s.notify_batch_size, lease)
            if not batch:
                break
            attempts = list(pool.map(lambda d: _send(d, s.notify_timeout_seconds), batch))
            for delivery, attempt in zip(batch, attempts):
                state = _settle(delivery, attempt)
                metrics.NOTIFICATION_ATTEMPTS.labels(state).inc()
                counts[state] = counts.get(state, 0) + 1
    return counts


def sweep(publisher) -> int:
    """Beat's notification sweep: campaigns blocked too long (campaign.unhealthy), old events purged,
    and a delivery task when any delivery is due (a retry, or a first attempt whose wake-up was lost)."""
    s = settings()
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_NOTIFICATIONS, s.notify_sweep_interval_seconds):
            return 0
        unhealthy = outbox.sweep_health(conn)
        notifications.purge_events(conn, s.notify_retention_days * 86400)
        notifications.cancel_stray(conn)
        due = notifications.any_due(conn)
    if due:
        publisher.send_task(DELIVER_NOTIFICATIONS)
    return unhealthy
