"""web: the per-agent webhook rate limit — one token bucket per agent, in this web process.

In-process on purpose: no Redis round trip on the webhook's hot path, and no new way to fail when
Redis is down (the web keeps answering 202 then). The limit of the whole tier is therefore the rate
times the number of web processes. Only agents whose signature verified get a bucket, so a stranger
can neither spend a real agent's budget nor grow this table.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class AgentRateLimiter:
    """`rate` requests per second per agent, `burst` at once; thread-safe (gthread workers)."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self._clock = rate, max(1, burst), clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, agent_id: str) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is free (for Retry-After)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(agent_id)
            if bucket is None:
                bucket = self._buckets[agent_id] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else math.inf


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After is whole seconds: round up, never 0 (which would invite an immediate retry)."""
    return str(max(1, math.ceil(wait_seconds))) if math.isfinite(wait_seconds) else "60"
