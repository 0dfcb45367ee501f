"""queue: our own Redis keys beside the broker's — one client per process, and the queue's depth.

The coalescing keys (coalesce.py), the poll in-flight marks (in_flight.py) and the depth gauges all
go through client(): the broker's short socket timeouts, since the web asks on its request path and
a failure there only delays work that PostgreSQL still holds.
"""

from __future__ import annotations

from functools import cache

import redis

from ..config import settings
from .names import QUEUE_KEYS


@cache
def client() -> redis.Redis:
    s = settings()
    timeout = s.broker_socket_timeout_seconds
    return redis.Redis.from_url(s.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)


def key(name: str) -> str:
    """A key of ours under the deployment's namespace (MEDIABUY_REDIS_NAMESPACE)."""
    return settings().redis_namespace + name


def queue_depth() -> tuple[int, int]:
    """(tasks waiting in our queue, tasks taken by a worker and not yet acknowledged), one round trip."""
    with client().pipeline(transaction=False) as pipe:
        for queue_key in QUEUE_KEYS:
            pipe.llen(key(queue_key))
        pipe.hlen(key("unacked"))  # kombu's set of delivered, unacknowledged messages
        *lengths, unacked = pipe.execute()
    return sum(lengths), unacked
