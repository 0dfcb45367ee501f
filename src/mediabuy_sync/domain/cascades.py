"""domain: cascades — a buyer action carried to each media buy it reaches: which buys, which ADCP task,
which failures are worth a retry and when, and the idempotency key every attempt carries."""

from __future__ import annotations

import hashlib
import random
from enum import StrEnum

from .statuses import Status

S = Status

# Execute submits these; a re-execute retries the failed ones and leaves the others alone.
SUBMITTABLE = frozenset({S.DRAFT, S.FAILED})
# The agent holds these buys: updates, cascades and cancels are sent to it.
AT_AGENT = frozenset({S.PENDING_APPROVAL, S.INPUT_REQUIRED, S.ACTIVE, S.PAUSED})
# Package budgets of these buys count against the campaign's total ("live" allocations); a DRAFT
# buy's packages will spend once executed, a finished or failed buy's will not.
ALLOCATING = AT_AGENT | {S.DRAFT}



class CascadeState(StrEnum):
    RUNNING = "running"  # some item is pending
    DONE = "done"  # every item done
    FAILED = "failed"  # every item settled, at least one failed


class ItemState(StrEnum):
    """One media buy's share of a cascade: settled once, by a guarded update (store/cascades.py)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


CASCADE_KINDS = ("execute", "pause", "reactivate", "update", "creatives", "property_list", "frequency_caps")
CASCADE_TASK: dict[str, str] = {
    "execute": "create_media_buy",
    "creatives": "sync_creatives",
    **{kind: "update_media_buy" for kind in ("pause", "reactivate", "update", "property_list", "frequency_caps")},
}

# not_ready: the agent has not named the buy or its packages yet (it may still be deciding)
RETRYABLE_KINDS = frozenset({"unreachable", "timeout", "not_ready"})
TRANSIENT_CODES = frozenset({"SERVICE_UNAVAILABLE", "RATE_LIMITED", "TIMEOUT", "INTERNAL_ERROR"})
MAX_COUNTDOWN = 5.0  # a countdown lives in Redis: a few seconds at most (DESIGN rule 5)


def is_retryable(kind: str, adcp_error: dict | None) -> bool:
    """Whether trying the same request again may succeed: the agent was out of reach or said so."""
    if kind in RETRYABLE_KINDS:
        return True
    adcp_error = adcp_error or {}
    codes = set(adcp_error.get("codes") or ()) | ({adcp_error["code"]} if adcp_error.get("code") else set())
    return adcp_error.get("recovery") == "transient" or bool(codes & TRANSIENT_CODES)


def retry_countdown(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before an agent's next attempt: exponential with full jitter, capped."""
    ceiling = min(MAX_COUNTDOWN, 0.5 * 2 ** max(0, attempts - 1))
    return (rng or random).uniform(0.1, ceiling)


def idempotency_key(cascade_id: int, media_buy_id: str) -> str:
    """The same on every attempt of one item, so the agent dedups a retry; opaque, so two sellers
    can't tell they received parts of one cascade."""
    digest = hashlib.sha256(f"mediabuy-sync:{cascade_id}:{media_buy_id}".encode()).hexdigest()
    return f"mbs-{digest[:40]}"
