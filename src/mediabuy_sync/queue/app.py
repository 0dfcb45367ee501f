"""queue: the Celery app factory, and what every sender's publishes carry.

The worker (worker/app.py) and every sender (the web's publisher, the CLI) make their app here, with
the same broker settings. Each publish carries the sender's log context in a message header, so a
webhook's request id follows it into the tasks it causes (worker/instrumentation.py reads it back).
"""

from __future__ import annotations

from celery import Celery, signals

from .. import logs, metrics
from ..config import settings
from . import rabbit
from .declarations import task_queues
from .names import INGEST_QUEUE, ROUTES

# The message header that carries the sender's log context.
CONTEXT_HEADER = "mediabuy_context"


def make_celery(include: tuple[str, ...] = (), fail_fast: bool = False) -> Celery:
    """An app for our broker. `include`: the task modules a worker loads. `fail_fast` (the web's):
    one connection attempt per publish, no retries, since the inbox sweeper enqueues whatever a
    failed publish left behind."""
    s = settings()
    app = Celery("mediabuy_sync", include=list(include))
    app.conf.update(
        broker_connection_retry_on_startup=True,
        # the queues by kind (queue/names.py), declared by each broker's settings below: a worker
        # started without --queues consumes all three
        task_default_queue=INGEST_QUEUE,
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        # Exactly-once effects come from Postgres; the broker only has to deliver at least once.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
    )
    # MEDIABUY_BROKER_URL chooses the broker: RabbitMQ's quorum queues (rabbit.py) or, unset, Redis
    app.conf.update(rabbit.celery_conf(s, fail_fast) if s.broker_url else _redis_conf(s, fail_fast))
    return app


def _redis_conf(s, fail_fast: bool) -> dict:
    """The Celery settings for the Redis broker at REDIS_URL, our keys' Redis."""
    return dict(
        broker_url=s.redis_url,
        # kombu's Redis transport, with a fix that keeps a worker alive through a Redis outage (broker.py)
        broker_transport="mediabuy_sync.queue.broker:Transport",
        broker_transport_options={
            # every key and queue under our namespace, so deployments (and test runs) can share a Redis
            "global_keyprefix": s.redis_namespace,
            "socket_timeout": s.broker_socket_timeout_seconds,
            "socket_connect_timeout": s.broker_socket_timeout_seconds,
            # a task unacked this long is delivered again; our countdowns stay far below it
            "visibility_timeout": 600,
            **({"max_retries": 0, "connect_retries_timeout": s.broker_socket_timeout_seconds} if fail_fast else {}),
        },
        task_queues=task_queues(),
    )


@signals.before_task_publish.connect
def _carry_context(sender=None, headers=None, body=None, **_):
    metrics.TASKS_PUBLISHED.labels(sender or "unknown").inc()
    context = {k: v for k, v in logs.current_context().items() if k in logs.CONTEXT_FIELDS}
    if headers is not None and context:
        headers[CONTEXT_HEADER] = context
