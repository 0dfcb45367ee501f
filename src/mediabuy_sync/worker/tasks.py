"""Celery tasks: thin edges around worker.ingest and the store. Each is safe to run twice."""

from __future__ import annotations

import logging
import random
from typing import Iterable

from celery import shared_task

from .. import logs, metrics
from ..config import settings
from ..store import campaigns, inbox, nonces
from ..store.db import queries, transaction
from ..store.periodic import claim_turn
from . import coalesce
from .app import (
    DRAIN, INGEST, POLL_AGENT, POLL_AGENTS, PURGE_NONCES, RECOMPUTE, RUN_CASCADE_AGENT, RUN_SYNC, SWEEP_CASCADES,
    SWEEP_INBOX, SWEEP_POLLS, SWEEP_ROLLUPS, celery_app,
)
from .ingest import process_batch, process_event, record_failure

log = logging.getLogger(__name__)
Q_POLLING = queries("polling")

# Short on purpose: a countdown lives in Redis, and rule 5 keeps those to a few seconds.
MAX_RETRY_COUNTDOWN = 5.0


def _backoff(attempt: int) -> float:
    """Exponential with full jitter, capped."""
    return random.uniform(0.1, min(MAX_RETRY_COUNTDOWN, 0.25 * 2**attempt))


@shared_task(bind=True, name=DRAIN, max_retries=None)
def drain_inbox(self) -> None:
    """Apply the oldest received events, a batch at a time (worker/ingest.py); the web queues one
    drain at a time after it commits a webhook (worker/coalesce.py)."""
    try:
        coalesce.release_drain()  # before claiming: an event committed after our claim asks for a new drain
    except Exception as exc:  # noqa: BLE001 - Redis away: the key expires by itself (coalesce.DRAIN_TTL_SECONDS)
        log.warning("drain key not released (%s)", exc)
    try:
        batch = process_batch(settings().ingest_batch_size, when_full=_drain_more)
    except Exception as exc:  # noqa: BLE001 - nothing claimed (PostgreSQL away): try again soon
        log.warning("inbox drain failed (%s); retrying", exc)
        raise self.retry(countdown=_backoff(self.request.retries + 1), exc=exc) from exc
    for event_id in batch.fallback:  # the batch rolled back: each event alone, with its own retries
        token = logs.bind(event_id=event_id)
        retry = _apply_alone(event_id)
        if retry is not None:
            celery_app.send_task(INGEST, args=[event_id], countdown=retry[0])
        logs.reset(token)
    recompute_changed(batch.campaigns_changed)


def _drain_more() -> None:
    """A full batch: queue the next drain now, for another worker process (never fails the batch)."""
    try:
        coalesce.request_drain(celery_app)
    except Exception as exc:  # noqa: BLE001 - the next webhook's drain or the inbox sweeper
        log.warning("next inbox drain not queued (%s)", exc)


@shared_task(bind=True, name=INGEST, max_retries=None)
def ingest(self, event_id: int) -> None:
    """One event on its own: a retry, a sweep, a replay (and the worker benchmark's baseline)."""
    retry = _apply_alone(event_id)
    if retry is not None:
        countdown, exc = retry
        raise self.retry(countdown=countdown, exc=exc)


def _apply_alone(event_id: int) -> tuple[float, Exception] | None:
    """Apply one event in its own transaction; None when that is over (applied, done before, or dead
    now), else (the countdown to its next attempt, what failed). A failure is counted on the event: at
    MEDIABUY_INGEST_MAX_ATTEMPTS it is dead, and until then no drain takes it (inbox.sql, claim_batch)."""
    try:
        processed = process_event(event_id)
    except Exception as exc:  # noqa: BLE001 - every failure is counted, then retried or dead-lettered
        failure = record_failure(event_id, exc, settings().ingest_max_attempts)
        if failure is None:
            return None  # processed or dead meanwhile (a concurrent delivery of the same event)
        if failure["state"] == "dead":
            log.error("event %s dead after %s attempts: %s", event_id, failure["attempts"], exc)
            metrics.EVENTS_DEAD.inc()
            return None
        log.warning("event %s attempt %s failed: %s", event_id, failure["attempts"], exc)
        return _backoff(failure["attempts"]), exc
    log.info("event %s %s", event_id, processed.outcome)
    recompute_changed({campaign_id: logs.current_context() for campaign_id in processed.campaigns_changed})
    return None


def recompute_changed(changed: dict[str, dict] | Iterable[str]) -> None:
    """After a commit that changed these campaigns' buys (campaign → the log context its recompute's
    lines carry, e.g. a webhook's request id): recompute each now, in this task, or later once its
    minimum interval is over (coalesce.plan_recomputes); not at all if one is pending already.
    Never fails the caller: a rollup left owed is recomputed by the rollup sweeper."""
    contexts = changed if isinstance(changed, dict) else {campaign_id: {} for campaign_id in changed}
    if not contexts:
        return
    s = settings()
    try:
        if s.recompute_every_change:  # the benchmark's baseline: a task per change, as before coalescing
            for campaign_id in contexts:
                celery_app.send_task(RECOMPUTE, args=[campaign_id])
            return
        now, later = coalesce.plan_recomputes(sorted(contexts), s.recompute_min_interval_seconds)
        for campaign_id, wait in later.items():
            token = logs.bind(**contexts[campaign_id])
            celery_app.send_task(RECOMPUTE, args=[campaign_id], countdown=wait)
            logs.reset(token)
    except Exception as exc:  # noqa: BLE001
        log.warning("recompute of %s not queued (%s); the rollup sweeper will do it", sorted(contexts), exc)
        return
    if now:
        try:
            _recompute(now, contexts)
        except Exception as exc:  # noqa: BLE001 - PostgreSQL away: the rollups stay owed for the sweeper
            log.warning("recompute of %s failed (%s); the rollup sweeper will do it", now, exc)


@shared_task(name=RECOMPUTE)
def recompute(campaign_id: str) -> None:
    """A recompute that waited for its campaign's interval (or the rollup sweeper's)."""
    s = settings()
    if not s.recompute_every_change:
        coalesce.start_interval(campaign_id, s.recompute_min_interval_seconds)
    _recompute([campaign_id], {})


def _recompute(campaign_ids: list[str], contexts: dict[str, dict]) -> None:
    """Recompute the campaigns in one transaction, in id order (as every rollup locks them)."""
    coalesce.release(*campaign_ids)  # before reading: see coalesce's docstring
    with transaction() as conn:
        results = {campaign_id: campaigns.recompute_rollup(conn, campaign_id) for campaign_id in sorted(campaign_ids)}
    for campaign_id, result in results.items():
        if result is None:
            continue
        token = logs.bind(**{**contexts.get(campaign_id, {}), "campaign_id": campaign_id})
        log.info("campaign %s surfaced %s blockers %s%s", campaign_id, result.status, list(result.first_blockers),
                 f" (+{result.blockers - len(result.first_blockers)})" if result.blockers > len(result.first_blockers) else "")
        logs.reset(token)


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
    """Enqueue poll tasks for the due buys (a few pages per agent, several agents per task), none
    for an agent whose last poll is still running: see worker/polling.py."""
    from .polling import agents_in_flight, claim_due, in_flight_ttl, mark_in_flight

    s = settings()
    # One transaction: the turn's row stays locked while the buys are leased and their agents marked
    # in flight, so a sweep that starts while a slow one still claims (1 s apart in the benchmark)
    # waits for it, then reads its marks and finds its buys leased. With the claim after the turn's
    # commit, two sweeps could lease the same buys (each read them due before the other's lease
    # committed): pages polled twice, 3-5 % of the calls in full benchmark runs on a slow machine.
    # (Marked before the commit: if the commit fails, those agents wait for their marks to expire.)
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_POLLS, s.poll_sweep_interval_seconds):
            return 0
        due = claim_due(conn, per_agent_pages=s.poll_pages_per_agent, in_flight=agents_in_flight())
        if not due:
            return 0
        mark_in_flight({agent_id: in_flight_ttl(len(ids), s.agent_call_timeout_seconds) for agent_id, ids in due.items()})
    agents = list(due)
    for start in range(0, len(agents), s.poll_agents_per_task):
        celery_app.send_task(POLL_AGENTS, args=[{a: due[a] for a in agents[start : start + s.poll_agents_per_task]}])
    return sum(len(ids) for ids in due.values())


@shared_task(name=POLL_AGENTS)
def poll_agents(work: dict[str, list[str]]) -> None:
    """{agent id: due buy ids}: each agent's pages in turn, the agents at once."""
    from .polling import poll_agents as poll

    poll(work, settings().agent_call_timeout_seconds, on_changed=recompute_changed)


@shared_task(name=POLL_AGENT)
def poll_agent(agent_id: str, buy_ids: list[str]) -> None:
    """One agent's poll, as sweeps before POLL_AGENTS sent it (messages still queued at an upgrade)."""
    poll_agents({agent_id: buy_ids})


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
    recompute_changed({c for r in results for c in r.campaigns_changed})
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
    recompute_changed(set(result.campaigns_changed))
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
