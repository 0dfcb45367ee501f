"""services: the inbox's work — drain it a batch at a time, apply an event alone with its retries,
sweep up events whose enqueue was lost, replay dead (or unmatched) ones.

The transactions themselves are services/ingest.py; this is what comes around them: the drain key,
retries counted on the event, the recomputes a batch owes, and what to enqueue next.
"""

from __future__ import annotations

import logging

from .. import logs, metrics
from ..config import settings
from ..domain.inbox import InboxState, retry_countdown
from ..queue import coalesce, keys
from ..queue.names import INGEST, SWEEP_INBOX
from ..store import inbox
from ..store.db import transaction
from ..store.periodic import claim_turn
from . import rollups
from .ingest import Batch, process_batch, process_event, record_failure

log = logging.getLogger(__name__)

# The most tasks the inbox sweeper lets wait in the queue: with the queue empty, as many events as a
# sweep ever re-enqueued (after a Redis outage, say), but a backlog is no longer copied into it again.
SWEEP_QUEUE_ROOM = 1000


def apply_batch(publisher) -> Batch:
    """One drain: the oldest received events, applied in one transaction (ingest.process_batch).
    Raises only if nothing could be claimed (PostgreSQL away): the drain task retries then."""
    try:
        coalesce.release_drain()  # before claiming: an event committed after our claim asks for a new drain
    except Exception as exc:  # noqa: BLE001 - Redis away: the key expires by itself (coalesce.DRAIN_TTL_SECONDS)
        log.warning("drain key not released (%s)", exc)
    return process_batch(settings().ingest_batch_size, when_full=lambda: _drain_more(publisher))


def after_batch(batch: Batch, publisher) -> None:
    """What a drain owes once its batch is over: each event of a batch that rolled back, alone with
    its own retries; the changed campaigns' recomputes."""
    for event_id in batch.fallback:
        token = logs.bind(event_id=event_id)
        retry = apply_alone(event_id, publisher)
        if retry is not None:
            publisher.send_task(INGEST, args=[event_id], countdown=retry[0])
        logs.reset(token)
    rollups.recompute_changed(batch.campaigns_changed, publisher)


def _drain_more(publisher) -> None:
    """A full batch: queue the next drain now, for another worker process (never fails the batch)."""
    try:
        coalesce.request_drain(publisher)
    except Exception as exc:  # noqa: BLE001 - the next webhook's drain or the inbox sweeper
        log.warning("next inbox drain not queued (%s)", exc)


def apply_alone(event_id: int, publisher) -> tuple[float, Exception] | None:
    """Apply one event in its own transaction; None when that is over (applied, done before, or dead
    now), else (the countdown to its next attempt, what failed). A failure is counted on the event: at
    MEDIABUY_INGEST_MAX_ATTEMPTS it is dead, and until then no drain takes it (inbox.sql, claim_batch)."""
    try:
        processed = process_event(event_id)
    except Exception as exc:  # noqa: BLE001 - every failure is counted, then retried or dead-lettered
        failure = record_failure(event_id, exc, settings().ingest_max_attempts)
        if failure is None:
            return None  # processed or dead meanwhile (a concurrent delivery of the same event)
        if failure["state"] == InboxState.DEAD:
            log.error("event %s dead after %s attempts: %s", event_id, failure["attempts"], exc)
            metrics.EVENTS_DEAD.inc()
            return None
        log.warning("event %s attempt %s failed: %s", event_id, failure["attempts"], exc)
        return retry_countdown(failure["attempts"]), exc
    log.info("event %s %s", event_id, processed.outcome)
    rollups.recompute_changed({campaign_id: logs.current_context() for campaign_id in processed.campaigns_changed},
                              publisher)
    return None


def sweep(publisher) -> int:
    """Beat's inbox sweep: enqueue again the received events whose first enqueue was lost."""
    s = settings()
    # An event merely waiting in a deep queue looks stale too: copying a backlog back into the queue
    # every period multiplied it (tests/faults: 7 of 9 ingest tasks were duplicates). So the sweep
    # only tops the queue up to SWEEP_QUEUE_ROOM; what was really lost is found as it drains.
    waiting, _ = keys.queue_depth()
    room = SWEEP_QUEUE_ROOM - waiting
    if room <= 0:
        return 0
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_INBOX, s.inbox_sweep_interval_seconds):
            return 0
        event_ids = inbox.claim_stale(conn, s.inbox_stale_after_seconds, limit=room)
    for event_id in event_ids:
        publisher.send_task(INGEST, args=[event_id])
    if event_ids:
        log.info("inbox sweep re-enqueued %d events", len(event_ids))
    return len(event_ids)


def watch(publisher) -> bool:
    """Beat's inbox watch: the oldest waiting event has waited MEDIABUY_INBOX_WATCH_AFTER_SECONDS
    and no drain is queued → queue one; True if this call did. A drain takes the oldest events a
    batch at a time and queues the next while its batch is full, so one drain empties a backlog.

    What it heals: the drains a broker lost with its data (Redis restarted empty, a failover) or
    never got (the web's enqueues during an outage). The sweeper heals those too, but only once events
    are MEDIABUY_INBOX_STALE_AFTER_SECONDS old and ~1,000 a period: 3,000 events waited 93–117 s after
    Redis came back empty (issue 18). The drain key is set with NX (coalesce.request_drain), so a
    drain already queued is not doubled, and two beats sending the watch cost nothing more."""
    with transaction() as conn:
        age = inbox.oldest_waiting_age(conn)
    if age is None or age < settings().inbox_watch_after_seconds:
        return False
    queued = coalesce.request_drain(publisher)
    if queued:
        log.warning("inbox: events waiting %.0f s with no drain queued (a lost enqueue, or the broker lost its data):"
                    " drain queued", age)
        metrics.DRAINS_REQUEUED.inc()
    return queued


def replay(event_ids: list[int], publisher) -> list[int]:
    """Dead events back to received, and enqueued; returns those that were dead. An enqueue that
    fails leaves them received: the inbox sweeper enqueues them."""
    with transaction() as conn:
        replayed = inbox.replay_dead(conn, event_ids)
    try:
        for event_id in replayed:
            publisher.send_task(INGEST, args=[event_id])
    except Exception as exc:  # noqa: BLE001 - they are received again: the inbox sweeper enqueues them
        log.warning("replayed events not all enqueued (%s); the sweeper will", exc)
    return replayed


def dead(limit: int) -> list[dict]:
    with transaction() as conn:
        return inbox.list_dead(conn, limit)


def unmatched(limit: int) -> list[dict]:
    """The newest events no buy of ours matched, with why (replayable like dead ones)."""
    with transaction() as conn:
        return inbox.list_unmatched(conn, limit)
