"""domain: when to poll a media buy next, and how long to leave a failing agent alone — as data.

Webhooks are the preferred path; polling `get_media_buys` is the backstop. A buy is polled soon
after submission or an anomaly, relaxed while the agent's webhooks keep arriving, and sooner when a
webhook was expected and didn't come. Terminal buys are not polled.
"""

from __future__ import annotations

import random

from .statuses import POLLED, Status

SOON = 30.0  # after submission, or an anomaly to reconcile
BACKSTOP = 120.0  # the protocol's "about every 2 minutes" when webhooks are quiet
RELAXED = 600.0  # webhooks are flowing for this buy

# How recent the buy's last webhook must be to count as "flowing".
WEBHOOKS_FLOWING_WITHIN = 600.0

# Seconds until the next poll: (status, webhooks flowing?) → delay. A buy waiting on the seller
# (pending, input required) expects a webhook soon, so it is polled sooner than a live one.
NEXT_POLL: dict[tuple[Status, bool], float] = {
    (Status.PENDING_APPROVAL, False): SOON,
    (Status.PENDING_APPROVAL, True): BACKSTOP,
    (Status.INPUT_REQUIRED, False): SOON * 2,
    (Status.INPUT_REQUIRED, True): BACKSTOP,
    (Status.ACTIVE, False): BACKSTOP,
    (Status.ACTIVE, True): RELAXED,
    (Status.PAUSED, False): BACKSTOP,
    (Status.PAUSED, True): RELAXED,
}

REASON_SOON = frozenset({"submitted", "anomaly", "resync-failed"})


def next_poll_in(status: Status, seconds_since_webhook: float | None, reason: str | None = None) -> float | None:
    """Seconds until this buy should be polled again; None for a status that is not polled."""
    status = Status(status)
    if status not in POLLED:
        return None
    if reason in REASON_SOON:
        return SOON
    flowing = seconds_since_webhook is not None and seconds_since_webhook < WEBHOOKS_FLOWING_WITHIN
    return NEXT_POLL[(status, flowing)]


BACKOFF_BASE = 5.0
BACKOFF_CAP = 600.0


def backoff_seconds(consecutive_failures: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter for an agent that failed this many times in a row."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, consecutive_failures - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
