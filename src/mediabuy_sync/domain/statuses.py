"""domain: media-buy statuses, their precedence, transitions and the ADCP mapping, as data.

Every table here is DESIGN.md's, row for row; tests/unit/test_statuses.py checks each row.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    INPUT_REQUIRED = "INPUT_REQUIRED"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    ARCHIVED = "ARCHIVED"


S = Status

# Most restrictive first: a campaign surfaces the first status any of its buys has.
MOST_RESTRICTIVE_FIRST: tuple[Status, ...] = (
    S.FAILED,
    S.REJECTED,
    S.INPUT_REQUIRED,
    S.PENDING_APPROVAL,
    S.DRAFT,
    S.PAUSED,
    S.ACTIVE,
    S.COMPLETED,
    S.CANCELED,
    S.ARCHIVED,
)
PRECEDENCE: dict[Status, int] = {status: rank for rank, status in enumerate(MOST_RESTRICTIVE_FIRST)}

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    # A create's own answer may be any of these, synchronous (the seller decided at once) or not.
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.INPUT_REQUIRED, S.ACTIVE, S.PAUSED, S.REJECTED, S.FAILED, S.ARCHIVED}),
    S.PENDING_APPROVAL: frozenset(
        {S.INPUT_REQUIRED, S.ACTIVE, S.PAUSED, S.COMPLETED, S.REJECTED, S.FAILED, S.CANCELED}
    ),
    S.INPUT_REQUIRED: frozenset({S.PENDING_APPROVAL, S.ACTIVE, S.PAUSED, S.REJECTED, S.FAILED, S.CANCELED}),
    S.ACTIVE: frozenset({S.PAUSED, S.COMPLETED, S.CANCELED, S.FAILED, S.INPUT_REQUIRED}),
    S.PAUSED: frozenset({S.ACTIVE, S.COMPLETED, S.CANCELED, S.FAILED}),
    # re-execute: as DRAFT (the new create's answer)
    S.FAILED: frozenset({S.PENDING_APPROVAL, S.INPUT_REQUIRED, S.ACTIVE, S.PAUSED, S.REJECTED, S.CANCELED, S.ARCHIVED}),
    S.REJECTED: frozenset({S.PENDING_APPROVAL, S.ARCHIVED}),  # PENDING_APPROVAL: re-submit
    S.COMPLETED: frozenset({S.ARCHIVED}),
    S.CANCELED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

# Statuses fallback polling keeps asking the agent about; the rest are terminal for polling.
POLLED: frozenset[Status] = frozenset({S.PENDING_APPROVAL, S.INPUT_REQUIRED, S.ACTIVE, S.PAUSED})

# ADCP task statuses (webhook `status`). "completed" defers to the result's media-buy status;
# "unknown" says nothing about the buy.
TASK_STATUS_TO_INTERNAL: dict[str, Status | None] = {
    "submitted": S.PENDING_APPROVAL,
    "working": S.PENDING_APPROVAL,
    "input-required": S.INPUT_REQUIRED,
    "auth-required": S.INPUT_REQUIRED,
    "failed": S.FAILED,
    "rejected": S.REJECTED,
    "canceled": S.CANCELED,
    "completed": None,
    "unknown": None,
}
TASK_COMPLETED = "completed"

# ADCP media-buy statuses (result.media_buy_status in 3.2, result.status in 3.0/3.1, get_media_buys).
MEDIA_BUY_STATUS_TO_INTERNAL: dict[str, Status] = {
    "pending_creatives": S.INPUT_REQUIRED,  # the seller waits on the buyer's creatives
    "pending_activation": S.PENDING_APPROVAL,  # ADCP <= 2.5
    "pending": S.PENDING_APPROVAL,  # older agents
    "pending_start": S.ACTIVE,  # approved, scheduled
    "active": S.ACTIVE,
    "paused": S.PAUSED,
    "completed": S.COMPLETED,
    "rejected": S.REJECTED,
    "canceled": S.CANCELED,
}

# Delivery-report statuses (media_buy_delivery webhooks). None: no status change.
DELIVERY_STATUS_TO_INTERNAL: dict[str, Status | None] = {
    "pending": S.PENDING_APPROVAL,
    "active": S.ACTIVE,
    "paused": S.PAUSED,
    "completed": S.COMPLETED,
    "failed": S.FAILED,
    "reporting_delayed": None,
}


# ADCP 3.2 has no "awaiting seller approval" media-buy status: a buy under review reads pending_start
# with no confirmed_at (the seller has not committed). Only a confirmed pending_start is approved.
UNCONFIRMED_MEDIA_BUY_STATUS_TO_INTERNAL: dict[str, Status] = {
    "pending_start": S.PENDING_APPROVAL,
}


def from_polled_media_buy(media_buy_status: str, confirmed: bool) -> Status:
    """Internal status for a media buy as get_media_buys describes it (confirmed: confirmed_at is set)."""
    if not confirmed and media_buy_status in UNCONFIRMED_MEDIA_BUY_STATUS_TO_INTERNAL:
        return UNCONFIRMED_MEDIA_BUY_STATUS_TO_INTERNAL[media_buy_status]
    return MEDIA_BUY_STATUS_TO_INTERNAL[media_buy_status]


def is_allowed(from_status: Status, to_status: Status) -> bool:
    """Whether a media buy may move from one status to another."""
    return to_status in ALLOWED_TRANSITIONS[from_status]


def from_task(task_status: str, media_buy_status: str | None = None) -> Status | None:
    """Internal status for an ADCP task webhook, or None when it says nothing about the buy.

    A completed task carries the buy's lifecycle in its result; other task statuses decide alone.
    Raises KeyError for a status outside the protocol.
    """
    if task_status == TASK_COMPLETED:
        return MEDIA_BUY_STATUS_TO_INTERNAL[media_buy_status] if media_buy_status else None
    return TASK_STATUS_TO_INTERNAL[task_status]


def from_media_buy(media_buy_status: str) -> Status:
    """Internal status for an ADCP media-buy status. Raises KeyError for an unknown one."""
    return MEDIA_BUY_STATUS_TO_INTERNAL[media_buy_status]


def from_delivery(delivery_status: str) -> Status | None:
    """Internal status for a delivery report's status, or None for no change."""
    return DELIVERY_STATUS_TO_INTERNAL[delivery_status]
