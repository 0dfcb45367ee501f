"""worker: the Celery tasks — thin edges around services/. Each is safe to run twice.

The polling and cascade tasks import services that load the ADCP SDK; the worker's parent has
loaded it already (worker/app.py), so importing them inside the task costs nothing there.
"""

from __future__ import annotations

import logging

from celery import shared_task

from ..config import settings
from ..domain.cascades import retry_countdown
from ..domain.inbox import retry_countdown as event_retry_countdown
from ..queue.names import (
    DISCOVER_ACCOUNTS, DRAIN, INGEST, KEEP_DATA, POLL_AGENT, POLL_AGENTS, PURGE_NONCES, RECOMPUTE, REFRESH_PRODUCTS, RUN_CASCADE_AGENT, RUN_SYNC,
    SWEEP_CASCADES, SWEEP_INBOX, SWEEP_POLLS, SWEEP_ROLLUPS, WATCH_INBOX,
)
from ..queue.names import DELIVER_NOTIFICATIONS, SWEEP_NOTIFICATIONS
from ..services import inbox, poll_sweep, products, resync, retention, rollups, webhook_intake
from ..services.campaigns import cascades as campaign_cascades
from .app import celery_app

log = logging.getLogger(__name__)


# --- the inbox ------------------------------------------------------------------------------------


@shared_task(bind=True, name=DRAIN, max_retries=None)
def drain_inbox(self) -> None:
    """Apply the oldest received events, a batch at a time; the web queues one drain at a time after
    it commits a webhook (queue/coalesce.py)."""
    try:
        batch = inbox.apply_batch(celery_app)
    except Exception as exc:  # noqa: BLE001 - nothing claimed (PostgreSQL away): try again soon
        log.warning("inbox drain failed (%s); retrying", exc)
        raise self.retry(countdown=event_retry_countdown(self.request.retries + 1), exc=exc) from exc
    inbox.after_batch(batch, celery_app)


@shared_task(bind=True, name=INGEST, max_retries=None)
def ingest(self, event_id: int) -> None:
    """One event on its own: a retry, a sweep, a replay (and the worker benchmark's baseline)."""
    retry = inbox.apply_alone(event_id, celery_app)
    if retry is not None:
        countdown, exc = retry
        raise self.retry(countdown=countdown, exc=exc)


@shared_task(name=SWEEP_INBOX)
def sweep_inbox() -> int:
    return inbox.sweep(celery_app)


@shared_task(name=WATCH_INBOX)
def watch_inbox() -> bool:
    return inbox.watch(celery_app)


@shared_task(name=PURGE_NONCES)
def purge_nonces() -> int:
    return webhook_intake.purge_nonces()


@shared_task(name=KEEP_DATA)
def keep_data() -> dict | None:
    """Partitions created ahead, expired ones dropped, old run records deleted (services/retention.py)."""
    report = retention.run()
    return None if report is None else report.as_dict()


# --- campaigns' surfaced statuses ----------------------------------------------------------------------


@shared_task(name=RECOMPUTE)
def recompute(campaign_id: str) -> None:
    """A recompute that waited for its campaign's interval (or the rollup sweeper's)."""
    rollups.recompute(campaign_id)


@shared_task(name=SWEEP_ROLLUPS)
def sweep_rollups() -> int:
    return rollups.sweep(celery_app)


# --- fallback polling, re-syncs and live status queries --------------------------------------------


@shared_task(name=SWEEP_POLLS)
def sweep_polls() -> int:
    return poll_sweep.sweep(celery_app)


@shared_task(name=POLL_AGENTS)
def poll_agents(work: dict[str, list[str]]) -> None:
    """{agent id: due buy ids}: each agent's pages in turn, the agents at once."""
    from ..services import polling

    polling.poll_all(work, settings().agent_call_timeout_seconds,
                     on_changed=lambda changed: rollups.recompute_changed(changed, celery_app))


@shared_task(name=POLL_AGENT)
def poll_agent(agent_id: str, buy_ids: list[str]) -> None:
    """One agent's poll, as sweeps before POLL_AGENTS sent it (messages still queued at an upgrade)."""
    poll_agents({agent_id: buy_ids})


@shared_task(name=RUN_SYNC)
def run_sync(run_id: int) -> None:
    """A re-sync or a live status query: poll every buy it covers now, whatever its schedule."""
    resync.run(run_id, celery_app)


@shared_task(name=REFRESH_PRODUCTS)
def refresh_products(agent_id: str) -> None:
    """Read a seller's catalogue (get_products) now."""
    products.refresh(agent_id, settings().agent_call_timeout_seconds)


@shared_task(name=DISCOVER_ACCOUNTS)
def discover_accounts(agent_id: str) -> None:
    """Ask a seller for our branded advertisers' account ids (sync_accounts, else list_accounts)."""
    from ..services import account_discovery

    account_discovery.discover(agent_id, settings().agent_call_timeout_seconds)


# --- cascades: the buyer's actions carried to the agents -----------------------------------------------


@shared_task(bind=True, name=RUN_CASCADE_AGENT, max_retries=None)
def run_cascade_agent(self, cascade_id: int, agent_id: str) -> None:
    """One sales agent's items of one cascade; retried (backoff with jitter) while the agent fails."""
    from ..services import cascade_jobs

    s = settings()
    try:
        result = cascade_jobs.run_job(cascade_id, agent_id, s.cascade_max_attempts, s.agent_call_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL away, a bug: try again soon; the sweeper after that
        if self.request.retries >= 5:
            raise
        log.warning("cascade %s job for %s failed (%s); retrying", cascade_id, agent_id, exc)
        raise self.retry(countdown=retry_countdown(self.request.retries + 1), exc=exc) from exc
    rollups.recompute_changed(set(result.campaigns_changed), celery_app)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)


@shared_task(name=SWEEP_CASCADES)
def sweep_cascades() -> int:
    return campaign_cascades.sweep(celery_app)


# --- notifications to the buyer's systems ------------------------------------------------------------


@shared_task(name=DELIVER_NOTIFICATIONS)
def deliver_notifications() -> dict:
    """The due deliveries, sent signed; a failure's retry is due later in PostgreSQL (beat's sweep)."""
    from ..services import notification_delivery

    return notification_delivery.deliver_due()


@shared_task(name=SWEEP_NOTIFICATIONS)
def sweep_notifications() -> int:
    from ..services import notification_delivery

    return notification_delivery.sweep(celery_app)
