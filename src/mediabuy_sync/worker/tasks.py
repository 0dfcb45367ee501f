"""Celery tasks: thin edges around worker.ingest and the store. Each is safe to run twice."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.exceptions import Retry

from .. import metrics
from ..config import settings
from ..store import campaigns, inbox, nonces
from ..store.db import queries, transaction
from ..store.periodic import claim_turn
from . import coalesce
from .app import (
    INGEST, POLL_AGENT, PURGE_NONCES, RECOMPUTE, RUN_CASCADE_AGENT, RUN_SYNC, SWEEP_CASCADES, SWEEP_INBOX, SWEEP_POLLS,
    SWEEP_ROLLUPS, celery_app,
)
from .ingest import process_event, record_failure

log = logging.getLogger(__name__)
Q_POLLING = queries("polling")

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
            metrics.EVENTS_DEAD.inc()
            return
        log.warning("event %s attempt %s failed: %s", event_id, failure["attempts"], exc)
        raise self.retry(countdown=_backoff(failure["attempts"]), exc=exc)
    log.info("event %s %s", event_id, processed.outcome)
    for campaign_id in processed.campaigns_changed:
        request_recompute(campaign_id)


def request_recompute(campaign_id: str) -> None:
    """Queue a recompute unless one is already queued. Never fails the caller: the sweeper heals."""
    try:
        if settings().recompute_every_change or coalesce.claim(campaign_id):
            celery_app.send_task(RECOMPUTE, args=[campaign_id])
    except Exception as exc:  # noqa: BLE001
        log.warning("recompute of %s not queued (%s); the rollup sweeper will do it", campaign_id, exc)


@shared_task(name=RECOMPUTE)
def recompute(campaign_id: str) -> None:
    coalesce.release(campaign_id)  # before reading: see coalesce's docstring
    with transaction() as conn:
        result = campaigns.recompute_rollup(conn, campaign_id)
    if result is not None:
        log.info("campaign %s surfaced %s blockers %s%s", campaign_id, result.status, list(result.first_blockers),
                 f" (+{result.blockers - len(result.first_blockers)})" if result.blockers > len(result.first_blockers) else "")


# The most tasks the inbox sweeper lets wait in the queue: with the queue empty, as many events as a
# sweep ever re-enqueued (after a Redis outage, say), but a backlog is no longer copied into it again.
INBOX_SWEEP_QUEUE_ROOM = 1000


@shared_task(name=SWEEP_INBOX)
def sweep_inbox() -> int:
    """Enqueue again the received events whose first enqueue was lost."""
    from .app import queue_depth

    s = settings()
    # An event merely waiting in a deep queue looks stale too: copying a backlog back into the queue
    # every period multiplied it (tests/faults: 7 of 9 ingest tasks were duplicates). So the sweep
    # only tops the queue up to INBOX_SWEEP_QUEUE_ROOM; what was really lost is found as it drains.
    room = INBOX_SWEEP_QUEUE_ROOM - queue_depth()
    if room <= 0:
        return 0
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_INBOX, s.inbox_sweep_interval_seconds):
            return 0
        event_ids = inbox.claim_stale(conn, s.inbox_stale_after_seconds, limit=room)
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


@shared_task(name=PURGE_NONCES)
def purge_nonces() -> int:
    """Forget RFC 9421 nonces past their expiry: a signature that old fails its window check anyway."""
    with transaction() as conn:
        if not claim_turn(conn, PURGE_NONCES, settings().nonce_purge_interval_seconds):
            return 0
        return nonces.purge_expired(conn)


# --- fallback polling, re-syncs and live status queries --------------------------------------
# worker.polling imports the ADCP SDK; the worker's parent has already loaded it (worker_init).


@shared_task(name=SWEEP_POLLS)
def sweep_polls() -> int:
    """Enqueue one poll task per agent (a few pages of due buys), none for an agent whose last one
    is still running: a hanging agent holds one worker slot at most (see worker/polling.py)."""
    from .polling import agents_in_flight, claim_due, in_flight_ttl, mark_in_flight

    s = settings()
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_POLLS, s.poll_sweep_interval_seconds):
            return 0
    work = claim_due(per_agent_pages=s.poll_pages_per_agent, in_flight=agents_in_flight())
    for agent_id, agent_pages in work.items():
        buy_ids = [b for page in agent_pages for b in page]
        mark_in_flight(agent_id, in_flight_ttl(len(buy_ids), s.agent_call_timeout_seconds))
        celery_app.send_task(POLL_AGENT, args=[agent_id, buy_ids])
    return sum(len(p) for pages_ in work.values() for p in pages_)


@shared_task(name=POLL_AGENT)
def poll_agent(agent_id: str, buy_ids: list[str]) -> None:
    from .polling import poll_agent_pages

    for campaign_id in poll_agent_pages(agent_id, buy_ids, settings().agent_call_timeout_seconds):
        request_recompute(campaign_id)


@shared_task(name=RUN_SYNC)
def run_sync(run_id: int) -> None:
    """A re-sync or a live status query: poll every buy it covers now, whatever its schedule."""
    from ..adcp.client import run
    from ..store import sync_runs
    from .polling import pages, poll_many

    s = settings()
    sync_run = sync_runs.get(run_id)
    if sync_run is None or sync_run["state"] in ("done", "failed"):
        return  # a redelivered task: the run is over
    with transaction() as conn:
        by_agent = sync_runs.targets(conn, sync_run["kind"], sync_run["target_id"])
    work = {agent_id: pages(ids) for agent_id, ids in by_agent.items()}
    live = sync_run["kind"] == "status_query"
    deadline = s.status_query_deadline_seconds if live else max(30.0, s.agent_call_timeout_seconds * 3)
    source = "api" if sync_run["source"] == "api" else "admin"
    results = run(poll_many(work, source, deadline, on_page=lambda n: sync_runs.progress(run_id, n)))
    for campaign_id in {c for r in results for c in r.campaigns_changed}:
        request_recompute(campaign_id)
    buys = [b for r in results for b in r.buys]
    errors = [e for r in results for e in r.errors]
    if live:  # the answer lists every buy of the campaign; terminal ones were not asked about
        asked = {b["media_buy_id"] for b in buys} | {e["media_buy_id"] for e in errors}
        with transaction() as conn:
            for row in conn.execute(Q_POLLING["buys_of_campaign"], {"campaign_id": sync_run["target_id"]}):
                if row["id"] not in asked:
                    buys.append({"media_buy_id": row["id"], "adcp_media_buy_id": row["adcp_media_buy_id"],
                                 "internal_status": row["status"], "adcp_status": row["adcp_status"],
                                 "previous_internal_status": row["status"], "previous_adcp_status": row["adcp_status"],
                                 "updated": False})
        buys.sort(key=lambda b: b["media_buy_id"])
    summary = {
        "agents_queried": len(work),
        "media_buys": buys,
        "errors": errors,
        "updated": sum(b["updated"] for b in buys),
    }
    sync_runs.finish(run_id, "done", summary)
    log.info("sync run %s (%s %s): %d buys, %d updated, %d errors", run_id, sync_run["kind"],
             sync_run["target_id"], len(buys), summary["updated"], len(errors))


# --- cascades: the buyer's actions carried to the agents ------------------------------------------

@shared_task(bind=True, name=RUN_CASCADE_AGENT, max_retries=None)
def run_cascade_agent(self, cascade_id: int, agent_id: str) -> None:
    """One sales agent's items of one cascade; retried (backoff with jitter) while the agent fails."""
    from ..domain.actions import retry_countdown
    from .cascades import run_job

    s = settings()
    try:
        result = run_job(cascade_id, agent_id, s.cascade_max_attempts, s.agent_call_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL away, a bug: try again soon; the sweeper after that
        if self.request.retries >= 5:
            raise
        log.warning("cascade %s job for %s failed (%s); retrying", cascade_id, agent_id, exc)
        raise self.retry(countdown=retry_countdown(self.request.retries + 1), exc=exc) from exc
    for campaign_id in result.campaigns_changed:
        request_recompute(campaign_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)


@shared_task(name=SWEEP_CASCADES)
def sweep_cascades() -> int:
    """Start again the agent jobs of cascades whose job was lost (a failed enqueue, a purged queue)."""
    from ..store import cascades

    with transaction() as conn:
        if not claim_turn(conn, SWEEP_CASCADES, settings().inbox_sweep_interval_seconds):
            return 0
        # A (cascade, agent) whose pending items nobody touched for this long lost its job: longer than
        # a live job's call plus a retry's short countdown can take (MEDIABUY_CASCADE_STALE_AFTER_SECONDS).
        jobs = cascades.claim_stale_jobs(conn, settings().cascade_stale_after_seconds)
    for cascade_id, agent_id in jobs:
        celery_app.send_task(RUN_CASCADE_AGENT, args=[cascade_id, agent_id])
    if jobs:
        log.info("cascade sweep restarted %d agent jobs", len(jobs))
    return len(jobs)
