"""Coalesced campaign recomputes: at most one queued per campaign at a time, the first at once.

After an ingest commits, it sets `recompute:<campaign>` with NX and enqueues a recompute only if
the key was new. The recompute deletes the key *before* it reads the buys, so a change committed
after that read finds the key gone and asks again. If Redis forgets a key or a task is lost,
the campaign's rollup stays owed in Postgres and the rollup sweeper recomputes it.
"""

from __future__ import annotations

import logging
from functools import cache

import redis

from ..config import settings

log = logging.getLogger(__name__)

# Long enough to cover a queued recompute under load, short enough that a lost one heals itself.
PENDING_TTL_SECONDS = 60


@cache
def _redis() -> redis.Redis:
    s = settings()
    return redis.Redis.from_url(s.redis_url, socket_timeout=2, socket_connect_timeout=2)


def _key(campaign_id: str) -> str:
    return f"{settings().redis_namespace}recompute:{campaign_id}"


def claim(campaign_id: str) -> bool:
    """True if the caller should enqueue a recompute of this campaign now."""
    return bool(_redis().set(_key(campaign_id), 1, nx=True, ex=PENDING_TTL_SECONDS))


def release(campaign_id: str) -> None:
    _redis().delete(_key(campaign_id))
