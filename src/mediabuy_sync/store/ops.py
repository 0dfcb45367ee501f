"""store: what operators read — the gauges /metrics computes at scrape time, and the /ops pages.

Each read is one transaction under a short statement timeout: a scrape or a page never hangs on a
database that went away or a query gone slow.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import partitions
from .db import queries, transaction

Q = queries("ops")


def _read(timeout_ms: int, *statements: tuple[str, dict | None]) -> list[list[dict]]:
    """Run named queries (name, params) in one transaction under `timeout_ms`."""
    with transaction() as conn:
        conn.execute(Q["statement_timeout"], {"milliseconds": str(timeout_ms)})
        return [conn.execute(Q[name], params or {}).fetchall() for name, params in statements]


def ping() -> None:
    """Readiness: raises unless PostgreSQL answers a statement."""
    with transaction() as conn:
        conn.execute(Q["ping"])


@dataclass(frozen=True)
class Gauges:
    inbox: dict  # {lag_seconds, received, dead}
    campaigns_by_surfaced_status: list[dict]  # {surfaced_status, campaigns}
    agents: list[dict]  # {agent_id, webhook_age_seconds, poll_failures, poll_backoff_seconds}
    cascade_items: list[dict]  # of running cascades: {kind, state, items}
    partition_days_ahead: dict  # {table: days its partitions cover from today}


def gauges(timeout_ms: int) -> Gauges:
    inbox, campaigns, agents, cascades = _read(
        timeout_ms, ("inbox_gauges", None), ("campaigns_by_surfaced_status", None), ("agent_gauges", None),
        ("cascade_items_by_state", None))
    with transaction() as conn:
        conn.execute(Q["statement_timeout"], {"milliseconds": str(timeout_ms)})
        ahead = partitions.days_ahead(conn)
    return Gauges(inbox[0], campaigns, agents, cascades, ahead)


def charts(timeout_ms: int) -> tuple[list[dict], list[dict]]:
    """(webhooks per agent and minute; inbox lag per minute), the campaigns page's two charts. Its list
    is paged by store/ops_lists.py."""
    per_minute, lag = _read(timeout_ms, ("events_per_minute", None), ("inbox_lag_per_minute", None))
    return per_minute, lag


def blocker_buys(timeout_ms: int, ids: list[str]) -> list[dict]:
    """The buys named as blockers, with what keeps them there."""
    (buys,) = _read(timeout_ms, ("blocker_buys", {"ids": ids}))
    return buys


def campaign_page(timeout_ms: int, campaign_id: str, timeline_limit: int) -> tuple[dict | None, list, list, list]:
    """(the campaign or None, its buys, their packages, the status timeline newest first)."""
    params = {"id": campaign_id}
    campaign, buys, packages, timeline = _read(
        timeout_ms, ("campaign", params), ("campaign_buys", params), ("campaign_packages", params),
        ("campaign_timeline", {**params, "limit": timeline_limit}))
    return (campaign[0] if campaign else None), buys, packages, timeline


def agents_page(timeout_ms: int) -> tuple[list[dict], list[dict]]:
    """(the agents with webhook freshness, dead events and polling health; webhooks per agent and minute)."""
    agents, per_minute = _read(timeout_ms, ("agents_page", None), ("events_per_minute", None))
    return agents, per_minute


def storage_page(timeout_ms: int) -> list[dict]:
    """Every table's size and row estimate, each partition under its table (store/partitions.py)."""
    with transaction() as conn:
        conn.execute(Q["statement_timeout"], {"milliseconds": str(timeout_ms)})
        return partitions.sizes(conn)
