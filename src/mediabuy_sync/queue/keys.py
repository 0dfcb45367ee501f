"""queue: our own Redis keys beside the broker's — one client per process, and the queues' depths.

The coalescing keys (coalesce.py), the poll in-flight marks (in_flight.py) and the depth gauges all
go through client(): the broker's short socket timeouts, since the web asks on its request path and
a failure there only delays work that PostgreSQL still holds.
"""

from __future__ import annotations

from functools import cache

import redis

from ..config import settings
from . import rabbit
from .names import INGEST_QUEUE, QUEUES, queue_keys


@cache
def client() -> redis.Redis:
    s = settings()
    timeout = s.broker_socket_timeout_seconds
    return redis.Redis.from_url(s.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)


def key(name: str) -> str:
    """A key of ours under the deployment's namespace (MEDIABUY_REDIS_NAMESPACE)."""
    return settings().redis_namespace + name


def queue_depths() -> tuple[dict[str, int], int | None]:
    """({queue: tasks waiting in it}, tasks taken by a worker and not yet acknowledged), one round trip.
    With RabbitMQ as the broker the depths come from it, and the unacknowledged count is None: its
    AMQP answer does not give it (rabbit.queue_depths)."""
    if settings().broker_url:
        return rabbit.queue_depths(), None
    with client().pipeline(transaction=False) as pipe:
        for queue in QUEUES:
            for queue_key in queue_keys(queue):
                pipe.llen(key(queue_key))
        pipe.hlen(key("unacked"))  # kombu's set of delivered, unacknowledged messages
        *lengths, unacked = pipe.execute()
    steps = len(lengths) // len(QUEUES)
    return {queue: sum(lengths[i * steps:(i + 1) * steps]) for i, queue in enumerate(QUEUES)}, unacked


def queue_depth(queue: str = INGEST_QUEUE) -> tuple[int, int | None]:
    """(tasks waiting in this queue, tasks taken by a worker and not yet acknowledged)."""
    waiting, unacked = queue_depths()
    return waiting[queue], unacked
