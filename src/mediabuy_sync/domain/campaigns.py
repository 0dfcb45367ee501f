"""domain: the campaign's own lifecycle, and which buyer actions apply to it and to its buys — as data."""

from __future__ import annotations

from enum import StrEnum

from .statuses import Status


class CampaignStatus(StrEnum):
    """The buyer's lifecycle of a campaign (its surfaced status is its buys' rollup: rollup.py)."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"
    CANCELED = "CANCELED"


C = CampaignStatus
CAMPAIGN_STATUSES = tuple(CampaignStatus)

# What the buyer may do to a campaign in each status.
EXECUTABLE_FROM = frozenset({C.DRAFT, C.ACTIVE, C.PAUSED})
PAUSABLE_FROM = frozenset({C.ACTIVE})
REACTIVATABLE_FROM = frozenset({C.PAUSED})
UPDATABLE_FROM = frozenset({C.DRAFT, C.ACTIVE, C.PAUSED})

# What a mediaBuys[] action may do to a buy in each status.
CANCELABLE = frozenset({Status.ACTIVE, Status.PAUSED, Status.PENDING_APPROVAL, Status.INPUT_REQUIRED})
# delete archives: a draft, or a buy that is over (ARCHIVED is reachable from these in the table), at once
ARCHIVABLE = frozenset({Status.DRAFT, Status.COMPLETED, Status.CANCELED, Status.FAILED, Status.REJECTED})
# … or a live one: canceled at its agent first, archived once the agent accepted (one action)
DELETABLE = ARCHIVABLE | CANCELABLE
# an update is carried to the agent for buys it holds; a DRAFT buy is updated here only
UPDATABLE = frozenset({Status.DRAFT, Status.ACTIVE, Status.PAUSED, Status.PENDING_APPROVAL, Status.INPUT_REQUIRED})
# the cascades reach these buys
PAUSE_TARGETS = frozenset({Status.ACTIVE, Status.PENDING_APPROVAL, Status.INPUT_REQUIRED})
# A buy the pause reached while still pending is paused at its agent too, and turns PAUSED only once
# approved: reactivate resumes it as well, or it would stay paused under an ACTIVE campaign.
REACTIVATE_TARGETS = frozenset({Status.PAUSED, Status.PENDING_APPROVAL, Status.INPUT_REQUIRED})

ACTION_ALLOWED: dict[str, frozenset[Status]] = {
    "update": UPDATABLE,
    "cancel": CANCELABLE,
    "delete": DELETABLE,
}


def action_error(action: str, status: Status) -> str | None:
    """Why this action can't apply to a buy in this status, or None when it can."""
    if status in ACTION_ALLOWED[action]:
        return None
    if action == "cancel" and status == Status.DRAFT:
        return "a DRAFT media buy is not at the agent: delete (archive) it instead"
    return f"{action} does not apply to a {status.value} media buy"
