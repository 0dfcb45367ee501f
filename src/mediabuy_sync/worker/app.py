"""The Celery app. The web imports it only to send tasks by name; workers load the task modules."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_init

from ..config import settings

INGEST = "mediabuy_sync.ingest"
DRAIN = "mediabuy_sync.drain_inbox"
RECOMPUTE = "mediabuy_sync.recompute"
SWEEP_INBOX = "mediabuy_sync.sweep_inbox"
SWEEP_ROLLUPS = "mediabuy_sync.sweep_rollups"
SWEEP_POLLS = "mediabuy_sync.sweep_polls"
POLL_AGENT = "mediabuy_sync.poll_agent"
POLL_AGENTS = "mediabuy_sync.poll_agents"
RUN_SYNC = "mediabuy_sync.run_sync"
PURGE_NONCES = "mediabuy_sync.purge_nonces"
RUN_CASCADE_AGENT = "mediabuy_sync.run_cascade_agent"
SWEEP_CASCADES = "mediabuy_sync.sweep_cascades"


def make_celery(fail_fast: bool = False) -> Celery:
    """The app. `fail_fast` (the web's): one connection attempt per publish, no retries, since the
    inbox sweeper enqueues whatever a failed publish left behind."""
    s = settings()
    app = Celery("mediabuy_sync", include=["mediabuy_sync.worker.tasks"])
    app.conf.update(
        broker_url=s.redis_url,
        # kombu's Redis transport, with a fix that keeps a worker alive through a Redis outage (broker.py)
        broker_transport="mediabuy_sync.worker.broker:Transport",
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # every key and queue under our namespace, so deployments (and test runs) can share a Redis
            "global_keyprefix": s.redis_namespace,
            "socket_timeout": s.broker_socket_timeout_seconds,
            "socket_connect_timeout": s.broker_socket_timeout_seconds,
            # a task unacked this long is delivered again; our countdowns stay far below it
            "visibility_timeout": 600,
            **({"max_retries": 0, "connect_retries_timeout": s.broker_socket_timeout_seconds} if fail_fast else {}),
        },
        task_default_queue="mediabuy",
        # Exactly-once effects come from Postgres; the broker only has to deliver at least once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep-inbox": {"task": SWEEP_INBOX, "schedule": s.inbox_sweep_interval_seconds},
            "sweep-rollups": {"task": SWEEP_ROLLUPS, "schedule": s.rollup_sweep_interval_seconds},
            "sweep-polls": {"task": SWEEP_POLLS, "schedule": s.poll_sweep_interval_seconds},
            "purge-nonces": {"task": PURGE_NONCES, "schedule": s.nonce_purge_interval_seconds},
            "sweep-cascades": {"task": SWEEP_CASCADES, "schedule": s.inbox_sweep_interval_seconds},
        },
    )
    return app


celery_app = make_celery()

# kombu's Redis lists for our queue: one per priority step (0, 3, 6, 9)
_QUEUE_KEYS = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def queue_depth() -> int:
    """Tasks waiting in our queue in Redis (not those taken by a worker)."""
    with celery_app.connection_for_read() as conn:
        client = conn.default_channel.client  # it adds our namespace (global_keyprefix) to the keys itself
        return sum(client.llen("mediabuy" + suffix) for suffix in _QUEUE_KEYS)

from . import instrumentation  # noqa: E402,F401 - its signal handlers: metrics, JSON logs, log context


@worker_init.connect
def _require_the_secrets_key(**_):
    """Fail at start, not at the first cascade, if this worker could not open the agents' secrets.
    SystemExit: Celery logs and ignores a receiver's Exception."""
    from ..secretbox import SecretsKeyMissing, require_key

    try:
        require_key()
    except SecretsKeyMissing as exc:
        raise SystemExit(f"error: {exc}") from None


@worker_init.connect
def _load_the_adcp_client(**_):
    """Import the ADCP SDK (~15 s, ~560 MB) once in the worker's parent, before the pool forks, so
    the children share it copy-on-write instead of each paying for it on its first poll."""
    import gc

    import mediabuy_sync.worker.polling  # noqa: F401

    # Keep the collector off those objects in the children: its bookkeeping writes would copy
    # the shared pages one by one.
    gc.collect()
    gc.freeze()
