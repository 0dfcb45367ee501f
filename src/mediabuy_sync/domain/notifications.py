"""domain: notifications to the buyer's systems — the event types, a delivery's and a subscription's
states, when a campaign is blocked, and how long a failed delivery waits before its next attempt."""

from __future__ import annotations

import random
from enum import StrEnum

from .statuses import Status


class EventType(StrEnum):
    CAMPAIGN_STATUS_CHANGED = "campaign.status_changed"  # the campaign's surfaced status (its rollup) changed
    MEDIA_BUY_STATUS_CHANGED = "media_buy.status_changed"  # one of its buys changed status (status path)
    CAMPAIGN_UNHEALTHY = "campaign.unhealthy"  # blocked (BLOCKED below) longer than the threshold
    CAMPAIGN_HEALTHY = "campaign.healthy"  # an unhealthy campaign is no longer blocked


class SubscriptionState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # its receiver answered 410 Gone: nothing more is sent to it


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (a first attempt or a retry)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed (or 410): replayable from the API
    CANCELED = "canceled"  # its subscription was disabled before it could be delivered


# The surfaced statuses that wait on someone (the buyer's creatives, the seller's approval): a campaign
# held in one of them too long is unhealthy.
BLOCKED = frozenset({Status.INPUT_REQUIRED, Status.PENDING_APPROVAL})

# Standard Webhooks: whsec_ + base64 of the key; the spec asks for 24 to 64 random bytes.
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def retry_delay(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones: base·2^(attempts-1), capped,
    with jitter (between half and all of it) so that receivers coming back are not hit all at once."""
    full = min(cap, base * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(full / 2, full)


def gives_up(attempts: int, age_seconds: float, max_attempts: int, max_age_seconds: float) -> bool:
    """True once a delivery has had its attempts, or is older than the retry window."""
    return attempts >= max_attempts or age_seconds >= max_age_seconds


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


GONE = 410  # the receiver says the endpoint is gone for good: disable the subscription
