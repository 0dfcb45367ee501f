"""Celery tasks: thin edges around worker.ingest and the store. Each is safe to run twice."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.exceptions import Retry

from ..config import settings
from ..store import campaigns, inbox
from ..store.db import transaction
from ..store.periodic import claim_turn
from . import coalesce
from .app import INGEST, RECOMPUTE, SWEEP_INBOX, SWEEP_ROLLUPS, celery_app
from .ingest import process_event, record_failure

log = logging.getLogger(__name__)

# Short on purpose: a countdown lives in Redis, and rule 5 keeps those to a few seconds.
MAX_RETRY_COUNTDOWN = 5.0


def _backoff(attempt: int) -> float:
    """Exponential with full jitter, capped."""
    return random.uniform(0.1, min(MAX_RETRY_COUNTDOWN, 0.25 * 2**attempt))


@shared_task(bind=True, name=INGEST, max_retries=None)
def ingest(self, event_id: int) -> None:
    try:
        processed = process_event(event_id)
    except Retry:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is counted, then retried or dead-lettered
        failure = record_failure(event_id, exc, settings().ingest_max_attempts)
        if failure is None:
            return  # processed or dead meanwhile (a concurrent delivery of the same event)
        if failure["state"] == "dead":
            log.error("event %s dead after %s attempts: %s", event_id, failure["attempts"], exc)
            return
        log.warning("event %s attempt %s failed: %s", event_id, failure["attempts"], exc)
        raise self.retry(countdown=_backoff(failure["attempts"]), exc=exc)
    log.info("event %s %s", event_id, processed.outcome)
    for campaign_id in processed.campaigns_changed:
        request_recompute(campaign_id)


def request_recompute(campaign_id: str) -> None:
    """Queue a recompute unless one is already queued. Never fails the caller: the sweeper heals."""
    try:
        if coalesce.claim(campaign_id):
            celery_app.send_task(RECOMPUTE, args=[campaign_id])
    except Exception as exc:  # noqa: BLE001
        log.warning("recompute of %s not queued (%s); the rollup sweeper will do it", campaign_id, exc)


@shared_task(name=RECOMPUTE)
def recompute(campaign_id: str) -> None:
    coalesce.release(campaign_id)  # before reading: see coalesce's docstring
    with transaction() as conn:
        result = campaigns.recompute_rollup(conn, campaign_id)
    if result is not None:
        log.info("campaign %s surfaced %s blockers %s", campaign_id, result.status, list(result.blockers))


@shared_task(name=SWEEP_INBOX)
def sweep_inbox() -> int:
    """Enqueue again the received events whose first enqueue was lost."""
    s = settings()
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_INBOX, s.inbox_sweep_interval_seconds):
            return 0
        event_ids = inbox.claim_stale(conn, s.inbox_stale_after_seconds)
    for event_id in event_ids:
        celery_app.send_task(INGEST, args=[event_id])
    if event_ids:
        log.info("inbox sweep re-enqueued %d events", len(event_ids))
    return len(event_ids)


@shared_task(name=SWEEP_ROLLUPS)
def sweep_rollups() -> int:
    """Recompute the campaigns whose rollup fell behind their buys (a lost recompute)."""
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_ROLLUPS, settings().rollup_sweep_interval_seconds):
            return 0
        owed = campaigns.rollups_owed(conn)
    for campaign_id in owed:
        celery_app.send_task(RECOMPUTE, args=[campaign_id])
    return len(owed)
