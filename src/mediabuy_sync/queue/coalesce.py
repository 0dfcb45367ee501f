"""queue: coalesced work — at most one task queued per piece of work at a time, the first at once.

- Campaign recomputes: after a change commits, its campaign's `recompute:<campaign>` is set with NX
  and a recompute is run (at once, or after the campaign's minimum interval: plan_recomputes) only
  if the key was new. The recompute deletes the key *before* it reads the buys, so a change
  committed after that read finds the key gone and asks again. If Redis forgets a key or a task is
  lost, the campaign's rollup stays owed in Postgres and the rollup sweeper recomputes it.
- Inbox drains: after the web commits a webhook, it sets `drain` with NX and enqueues a drain only if
  the key was new; the drain deletes the key before it claims its batch, with the same reasoning.
  A lost drain leaves events received in Postgres: the next webhook's drain (the key expires within
  DRAIN_TTL_SECONDS) or the inbox sweeper takes them.
"""

from __future__ import annotations

import logging

from . import keys
from .names import DRAIN

log = logging.getLogger(__name__)

# Long enough to cover a queued recompute under load, short enough that a lost one heals itself.
PENDING_TTL_SECONDS = 60
# Shorter: a queued drain is taken within milliseconds when workers keep up; when they don't, a
# second one queued after this long is harmless (each claims different events).
DRAIN_TTL_SECONDS = 10


def _key(campaign_id: str) -> str:
    return keys.key(f"recompute:{campaign_id}")


def _recent_key(campaign_id: str) -> str:
    return keys.key(f"recomputed:{campaign_id}")


def plan_recomputes(campaign_ids: list[str], min_interval: float) -> tuple[list[str], dict[str, float]]:
    """Of the campaigns that changed: (those to recompute now, {those to recompute later: after how
    many seconds}); a campaign that already has a recompute pending is in neither.

    At most one recompute per campaign per `min_interval`: the first change of a quiet campaign is
    recomputed at once (an end-to-end latency of milliseconds), while a campaign hearing a flood is
    recomputed once per interval, every change in between folded into that one. Two round trips.
    """
    r = keys.client()
    with r.pipeline(transaction=False) as pipe:
        for campaign_id in campaign_ids:
            pipe.set(_key(campaign_id), 1, nx=True, ex=PENDING_TTL_SECONDS)
        claimed = [c for c, ok in zip(campaign_ids, pipe.execute()) if ok]
    if not claimed:
        return [], {}
    interval_ms = max(1, int(min_interval * 1000))
    with r.pipeline(transaction=False) as pipe:
        for campaign_id in claimed:
            pipe.set(_recent_key(campaign_id), 1, nx=True, px=interval_ms)  # the interval starts now
            pipe.pttl(_recent_key(campaign_id))
        answers = pipe.execute()
    now, later = [], {}
    for campaign_id, started, ttl_ms in zip(claimed, answers[0::2], answers[1::2]):
        if started:
            now.append(campaign_id)
        else:  # recomputed within the interval: once it ends
            later[campaign_id] = max(ttl_ms, 1) / 1000
    return now, later


def start_interval(campaign_id: str, min_interval: float) -> None:
    """A recompute that waited for its interval starts the next one as it runs."""
    keys.client().set(_recent_key(campaign_id), 1, px=max(1, int(min_interval * 1000)))


def release(*campaign_ids: str) -> None:
    keys.client().delete(*[_key(campaign_id) for campaign_id in campaign_ids])


def _drain_key() -> str:
    return keys.key("drain")


def request_drain(app) -> bool:
    """Queue a drain of the inbox with `app` (the web's publisher, the worker's app) unless one is
    queued already; True if this call queued it. Raises if Redis fails (callers log; nothing is lost)."""
    if not keys.client().set(_drain_key(), 1, nx=True, ex=DRAIN_TTL_SECONDS):
        return False
    try:
        app.send_task(DRAIN, retry=False)
    except Exception:
        release_drain()  # else no drain for DRAIN_TTL_SECONDS
        raise
    return True


def release_drain() -> None:
    keys.client().delete(_drain_key())
