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
# … and resubmits the rejected ones (REJECTED → PENDING_APPROVAL is the table's re-submit), after the
# buyer changed what the seller declined. Not SUBMITTABLE: a resubmission that can't reach its agent
# leaves the buy REJECTED (REJECTED → FAILED is no transition), with the error on the buy.
EXECUTED = SUBMITTABLE | {S.REJECTED}
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

    PENDING = "pending"  # to send, or answered and waiting for a read of the buy to show it (answered_at)
    DONE = "done"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"  # answered "done", but the seller's buy did not show it in time


CASCADE_KINDS = ("execute", "pause", "reactivate", "update", "creatives", "property_list", "frequency_caps")
CASCADE_TASK: dict[str, str] = {
    "execute": "create_media_buy",
    "creatives": "sync_creatives",
    **{kind: "update_media_buy" for kind in ("pause", "reactivate", "update", "property_list", "frequency_caps")},
}

NOT_CONFIRMED = "not_confirmed"  # answered, not yet shown on the seller's buy: read it again soon
# not_ready: the agent has not named the buy or its packages yet (it may still be deciding)
RETRYABLE_KINDS = frozenset({"unreachable", "timeout", "not_ready", NOT_CONFIRMED})
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


def effect_shown(request: dict, status: str | None, packages: list[dict]) -> bool | None:
    """Whether the seller's buy (its ADCP status and packages, as get_media_buys lists them) shows what
    an update_media_buy `request` asked for: a cancel, a pause or resume of the buy or of packages, a
    package budget. None when the request asks nothing a read can show (creatives, caps, goals)."""
    checks: list[bool] = []
    listed = {p.get("package_id"): p for p in packages if isinstance(p, dict)}
    if request.get("canceled"):
        checks.append(status == "canceled")
    elif "paused" in request:
        all_paused = bool(listed) and all(_package_paused(p) for p in listed.values() if not _package_canceled(p))
        checks.append((status == "paused" or all_paused) if request["paused"] else status != "paused")
    for change in request.get("packages") or ():
        package = listed.get(change.get("package_id"))
        if package is None:
            continue  # a seller that lists no packages: only the buy's own status can be checked
        if change.get("canceled"):
            checks.append(_package_canceled(package))
        elif "paused" in change and ("paused" in package or "status" in package):
            checks.append(_package_paused(package) == bool(change["paused"]))
        if change.get("budget") is not None and isinstance(package.get("budget"), (int, float)):
            checks.append(abs(float(package["budget"]) - float(change["budget"])) < 0.005)
    return all(checks) if checks else None


def _package_paused(package: dict) -> bool:
    return bool(package.get("paused")) or package.get("status") == "paused"


def _package_canceled(package: dict) -> bool:
    return bool(package.get("canceled")) or package.get("status") == "canceled"


def idempotency_key(cascade_id: int, media_buy_id: str) -> str:
    """The same on every attempt of one item, so the agent dedups a retry; opaque, so two sellers
    can't tell they received parts of one cascade."""
    digest = hashlib.sha256(f"mediabuy-sync:{cascade_id}:{media_buy_id}".encode()).hexdigest()
    return f"mbs-{digest[:40]}"
