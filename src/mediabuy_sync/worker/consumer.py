"""worker: Celery's consumer, reconnecting to a lost broker about every second instead of on kombu's
growing backoff.

kombu 5.7.0 waits 2, 4, 6 … up to 30 s between tries (Connection.ensure_connection's defaults, which
Celery's consumer does not let a setting change): after a minute's outage a worker sat idle up to 30 s
with Redis back (tests/faults/test_broker_loss.py). A try against a broker that is down costs one refused
connect, so a steady second is cheap, and the backlog starts draining as soon as the broker returns.
"""

from __future__ import annotations

from celery.worker.consumer import Consumer as CeleryConsumer

RECONNECT = {"interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}


class Consumer(CeleryConsumer):
    def ensure_connected(self, conn):
        ensure = conn.ensure_connection
        conn.ensure_connection = lambda *args, **kwargs: ensure(*args, **{**RECONNECT, **kwargs})
        return super().ensure_connected(conn)
