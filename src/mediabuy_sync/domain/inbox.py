"""domain: a webhook event's life in the inbox — received, then processed once, or dead after its attempts."""

from __future__ import annotations

import random
from enum import StrEnum


class InboxState(StrEnum):
    RECEIVED = "received"  # committed, waiting for a drain (or a retry, a sweep, a replay)
    PROCESSED = "processed"  # applied (or recorded) in the transaction that marked it so
    DEAD = "dead"  # failed every attempt: listed for operators, replayable (back to received)
    UNMATCHED = "unmatched"  # about no buy of ours: kept with the reason, not retried; its agent is polled


# A retry's countdown lives in the broker (Redis): DESIGN rule 5 keeps those to a few seconds.
MAX_RETRY_COUNTDOWN = 5.0


def retry_countdown(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before an event's (or a drain's) next attempt: exponential with full jitter, capped."""
    return (rng or random).uniform(0.1, min(MAX_RETRY_COUNTDOWN, 0.25 * 2**attempt))
