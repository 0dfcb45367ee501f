"""The buyer's actions on a campaign — execute, update, pause, reactivate — and the cascades that
carry them to the agents: which buys they reach, how budgets split, which creatives fit, when to retry.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from .budgets import CENT
from .statuses import Status

S = Status

# Execute submits these; a re-execute retries the failed ones and leaves the others alone.
SUBMITTABLE = frozenset({S.DRAFT, S.FAILED})
# The agent holds these buys: updates, cascades and cancels are sent to it.
AT_AGENT = frozenset({S.PENDING_APPROVAL, S.INPUT_REQUIRED, S.ACTIVE, S.PAUSED})
# Package budgets of these buys count against the campaign's total ("live" allocations); a DRAFT
# buy's packages will spend once executed, a finished or failed buy's will not.
ALLOCATING = AT_AGENT | {S.DRAFT}

CASCADE_KINDS = ("execute", "pause", "reactivate", "update", "creatives", "property_list", "frequency_caps")
CASCADE_TASK: dict[str, str] = {
    "execute": "create_media_buy",
    "creatives": "sync_creatives",
    **{kind: "update_media_buy" for kind in ("pause", "reactivate", "update", "property_list", "frequency_caps")},
}

# --- execute: packages and their budgets -------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPackage:
    index: int  # the pacing period's position; 0 when the product has none
    label: str | None
    start: datetime
    end: datetime
    budget: Decimal


def split_by_weight(total: Decimal, weights: Mapping[str, float | Decimal]) -> dict[str, Decimal]:
    """`total` shared in proportion to `weights`, to the cent: shares rounded down, the cents left over
    to the largest remainders (ties by key), so the parts add up to the total exactly."""
    weight_sum = sum((Decimal(str(w)) for w in weights.values()), Decimal(0))
    if not weights:
        return {}
    if weight_sum <= 0:
        weights, weight_sum = {k: 1 for k in weights}, Decimal(len(weights))
    exact = {k: total * Decimal(str(w)) / weight_sum for k, w in weights.items()}
    parts = {k: v.quantize(CENT, rounding=ROUND_DOWN) for k, v in exact.items()}
    leftover = int(((total - sum(parts.values(), Decimal(0))) / CENT).to_integral_value(rounding=ROUND_DOWN))
    for key in sorted(exact, key=lambda k: (-(exact[k] - parts[k]), k))[:leftover]:
        parts[key] += CENT
    return parts


def plan_packages(product_budget: Decimal, periods: list[dict], flight_start: datetime,
                  flight_end: datetime) -> list[PlannedPackage]:
    """One package per pacing period ({label, startTime, endTime, budget?}, times as datetimes), or
    one over the whole flight without periods. A period's own budget is kept; what the named ones
    leave of the product's budget is shared by the others in proportion to their duration."""
    if not periods:
        return [PlannedPackage(0, None, flight_start, flight_end, product_budget)]
    named = {i: _money(p["budget"]) for i, p in enumerate(periods) if p.get("budget") is not None}
    rest = max(product_budget - sum(named.values(), Decimal(0)), Decimal(0))
    unnamed = {str(i): (p["endTime"] - p["startTime"]).total_seconds()
               for i, p in enumerate(periods) if i not in named}
    shares = {int(k): v for k, v in split_by_weight(rest, unnamed).items()}
    return [PlannedPackage(i, p.get("label"), p["startTime"], p["endTime"], named.get(i, shares.get(i, Decimal(0))))
            for i, p in enumerate(periods)]


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def scale_periods(periods: list[dict], factor: Decimal) -> list[dict]:
    """Named period budgets scaled with their product's (rounded down: they still fit it)."""
    return [{**p, "budget": float((_money(p["budget"]) * factor).quantize(CENT, rounding=ROUND_DOWN))}
            if p.get("budget") is not None else p for p in periods]


# --- update: the rules of mediaBuys[] -------------------------------------------------------------


def creative_ids_errors(creative_ids: Iterable[str], manifest: Mapping[str, str], accepted: Iterable[str]) -> list[str]:
    """Why a buy's creative_ids override can't be taken (empty when it can): each id must be in the
    campaign's manifest and of a format the buy's products accept — never silently filtered."""
    accepted = set(accepted)
    ids = list(dict.fromkeys(creative_ids))
    unknown = [c for c in ids if c not in manifest]
    wrong = [c for c in ids if c in manifest and manifest[c] not in accepted]
    errors = []
    if unknown:
        errors.append(f"Not linked to this campaign: {', '.join(unknown)}.")
    if wrong:
        errors.append(f"Of a format this media buy's products do not accept ({', '.join(sorted(accepted)) or 'none'}): "
                      f"{', '.join(wrong)}.")
    return errors


def goals_change_error(current: list[dict] | None, requested: list[dict], confirmed: bool) -> str | None:
    """A change of optimization goals must be confirmed: a silent change breaks optimization."""
    if requested == (current or []) or confirmed:
        return None
    return ("These optimization_goals change the media buy's goals: confirm the change with "
            "confirmOptimizationGoalsChange: true.")


def creatives_for(formats: Iterable[str], manifest: Mapping[str, str], override: list[str] | None) -> list[str]:
    """The creatives a package of these formats carries: the buy's override when it has one, else
    the manifest's creatives of those formats (auto-sync)."""
    formats = set(formats)
    chosen = override if override is not None else sorted(manifest)
    return [c for c in chosen if manifest.get(c) in formats]


# --- frequency caps ------------------------------------------------------------------------------------

CAP_PERIODS = ("hour", "day", "week", "flight")  # shortest first


def merged_frequency_caps(*cap_lists: Iterable[dict]) -> list[dict]:
    """The caps in force across the campaign's and the advertiser's lists: per period, the lowest."""
    lowest: dict[str, int] = {}
    for caps in cap_lists:
        for cap in caps or ():
            per, most = cap["per"], int(cap["maxImpressions"])
            lowest[per] = min(most, lowest.get(per, most))
    return [{"maxImpressions": lowest[p], "per": p} for p in CAP_PERIODS if p in lowest]


# --- cascades: retries -------------------------------------------------------------------------------

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
