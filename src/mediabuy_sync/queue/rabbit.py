"""queue: RabbitMQ as the Celery broker (MEDIABUY_BROKER_URL=amqp://…): quorum queues, and their depths.

Why quorum queues: RabbitMQ replicates them over a cluster's nodes (Raft) and keeps them on disk, so a
node lost — or the broker restarted — keeps every queued task; a Redis without persistence loses them
and our inbox watch and sweepers must find the work again (docs/scaling.md, "Which broker").

What quorum queues change for Celery (its "Using Quorum Queues" notes), and what we do about it:
- no global QoS: Celery sees the quorum queues (worker_detect_quorum_queues, on by default) and sets
  the prefetch per consumer instead; ours is 1 per pool process (worker_prefetch_multiplier) anyway.
- no priorities: we use none.
- countdowns (a retry's, a recompute's): a worker may not sit on an unacknowledged ETA message, so
  Celery 5.5+ sends them through its native delayed delivery (exchanges celery_delayed_0…27 whose
  quorum queues dead-letter into each other, then into the task's own exchange). That works only
  through a topic exchange — with a direct one the countdown blocks a worker — hence topic below.

Isolation between deployments (the role MEDIABUY_REDIS_NAMESPACE plays in Redis) is the URL's vhost:
the delayed-delivery exchanges have fixed names, so a queue-name prefix alone would not separate them.
"""

from __future__ import annotations

from kombu import Connection

from ..config import Settings, settings
from .declarations import task_queues
from .names import QUEUES

QUORUM = {"x-queue-type": "quorum"}


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://", "pyamqp://"))


def countdown(seconds: float, broker_url: str) -> float:
    """A task's countdown as the broker takes it. RabbitMQ's native delayed delivery (Celery with
    quorum queues) counts whole seconds and refuses below one ("countdown must be a positive number":
    a recompute 0.3 s away was not queued, tests/integration/test_rabbit_broker.py's log); Redis takes
    fractions."""
    return max(seconds, 1.0) if is_amqp(broker_url) and seconds > 0 else seconds


def celery_conf(s: Settings, fail_fast: bool) -> dict:
    """The Celery settings for RabbitMQ; `fail_fast` as in app.make_celery (the web's publisher)."""
    if not is_amqp(s.broker_url):
        raise ValueError(f"MEDIABUY_BROKER_URL must be an amqp:// URL (RabbitMQ) or empty (Redis), not {s.broker_url.split(':')[0]}://…")
    timeout = s.broker_socket_timeout_seconds
    options = {
        # a publish returns once RabbitMQ has the message (in a quorum queue: on a majority of its
        # replicas); without it a publish just before a broker's failure is lost without an error
        "confirm_publish": True,
    }
    if fail_fast:
        # one connection attempt, and no read of the web's may wait on a stalled broker: the inbox
        # watch and sweeper enqueue whatever a failed publish left behind
        options.update(max_retries=0, connect_retries_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
    return {
        "broker_url": s.broker_url,
        "broker_transport_options": options,
        "broker_connection_timeout": timeout if fail_fast else max(timeout, 4.0),
        "task_queues": task_queues("topic", QUORUM),
        # a queue a worker is told of that is not above (celery worker --queues other) is a quorum one too
        "task_default_queue_type": "quorum",
        "task_default_exchange_type": "topic",
        "broker_native_delayed_delivery_queue_type": "quorum",
        "worker_detect_quorum_queues": True,
    }


def queue_depths() -> dict[str, int]:
    """{queue: messages ready in it}, from RabbitMQ (a passive declare per queue, with the broker's
    short timeouts). RabbitMQ's AMQP answer counts ready messages only: the unacknowledged ones (taken
    by a worker) are not in it, and the countdowns waiting in the delayed-delivery queues neither."""
    s = settings()
    timeout = s.broker_socket_timeout_seconds
    depths = {}
    with Connection(s.broker_url, connect_timeout=timeout,
                    transport_options={"read_timeout": timeout, "write_timeout": timeout}) as conn:
        conn.connect()
        for queue in QUEUES:
            channel = conn.channel()  # a channel each: a queue not declared yet closes its channel (404)
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except conn.channel_errors:
                depths[queue] = 0  # no worker has declared it yet: nothing can wait in it
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass
    return depths
