"""domain: re-sync runs and live status queries — what they cover, who asked, and their states."""

from __future__ import annotations

from enum import StrEnum


class SyncRunKind(StrEnum):
    MEDIA_BUY = "media_buy"
    CAMPAIGN = "campaign"
    AGENT = "agent"
    STATUS_QUERY = "status_query"  # a buyer's live GET …/media-buy-status: the campaign's buys


class SyncRunSource(StrEnum):
    API = "api"  # the buyer API (a live status query)
    ADMIN = "admin"  # an operator (CLI, /admin)


class SyncRunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINISHED = frozenset({SyncRunState.DONE, SyncRunState.FAILED})
