"""store: the /ops lists, a page at a time — campaigns (blocked first, filtered) and dead events.

Keyset paging: a page is the `limit` rows after the last row of the page before, in the list's order,
so page 100 costs what page 1 does and a row updated meanwhile is neither shown twice on one page nor
makes the next page skip one. Nothing is counted: counting grows with the history kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import queries, transaction

Q = queries("ops_lists")


@dataclass(frozen=True)
class CampaignFilter:
    status: str | None = None  # surfaced status
    agent: str | None = None  # campaigns with a buy of this sales agent
    name: str | None = None  # case-insensitive substring of the name
    advertiser: str | None = None


@dataclass(frozen=True)
class CampaignAfter:
    """Where the page before ended: its last campaign's place in the order."""

    blocked: bool
    updated_at: datetime
    id: str


@dataclass(frozen=True)
class EventAfter:
    received_at: datetime
    id: int


def like_substring(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its own % _ and \\ taken literally (\\ is the escape)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _read(timeout_ms: int, name: str, params: dict) -> list[dict]:
    with transaction() as conn:
        conn.execute(Q["read_settings"], {"milliseconds": str(timeout_ms)})
        return conn.execute(Q[name], params).fetchall()


def campaigns(timeout_ms: int, where: CampaignFilter, after: CampaignAfter | None, limit: int) -> list[dict]:
    """Up to `limit` campaigns after `after`, blocked first then most recently updated."""
    params = {"advertiser": where.advertiser, "agent": where.agent, "status": where.status,
              "name": like_substring(where.name) if where.name else None, "limit": limit,
              "after_id": after.id if after else None, "after_blocked": after.blocked if after else None,
              "after_updated_at": after.updated_at if after else None}
    return _read(timeout_ms, "campaigns_page_of_status" if where.status else "campaigns_page", params)


def dead_events(timeout_ms: int, after: EventAfter | None, limit: int) -> list[dict]:
    """Up to `limit` dead events after `after`, oldest first."""
    return _read(timeout_ms, "dead_events_page", {"limit": limit, "after_id": after.id if after else None,
                                                  "after_received_at": after.received_at if after else None})
