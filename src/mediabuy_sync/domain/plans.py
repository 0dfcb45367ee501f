"""domain: a campaign's plan as the buyer sends it — flight, budgets, products, pacing periods, creatives.

Each rule is one function over plain values, so the HTTP layer can name the field it is about.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime
from decimal import Decimal

CAMPAIGN_PACING = ("EVEN", "ASAP", "FRONTLOADED")
PACKAGE_PACING = ("even", "asap", "front_loaded")
FREQUENCY_PERIODS = ("hour", "day", "week", "flight")


def flight_error(start: datetime, end: datetime) -> str | None:
    """Why a flight is not valid, or None."""
    if end <= start:
        return "The flight must end after it starts."
    return None


def daily_cap_error(daily_cap: Decimal | None, total: Decimal) -> str | None:
    if daily_cap is not None and daily_cap > total:
        return f"The daily cap ({daily_cap}) is above the campaign budget ({total})."
    return None


def period_errors(start: datetime, end: datetime, flight_start: datetime, flight_end: datetime) -> list[str]:
    """What is wrong with one pacing period of a product (empty when it is valid)."""
    errors = []
    if end <= start:
        errors.append("A pacing period must end after it starts.")
    if start < flight_start or end > flight_end:
        errors.append("A pacing period must lie within the campaign's flight.")
    return errors


def periods_budget_error(period_budgets: Iterable[Decimal | None], product_budget: Decimal) -> str | None:
    """The budgets the pacing periods name may not add up to more than their product's."""
    named = sum((b for b in period_budgets if b is not None), Decimal(0))
    if named > product_budget:
        return f"The pacing periods' budgets ({named}) exceed the product's budget ({product_budget})."
    return None


def repeated(keys: Iterable[Hashable | None]) -> list[int]:
    """Positions of the entries whose key an earlier entry already has (None: no key, never repeated)."""
    seen: set = set()
    positions = []
    for position, key in enumerate(keys):
        if key is None:
            continue
        if key in seen:
            positions.append(position)
        seen.add(key)
    return positions


def unplaceable_creatives(creative_formats: Iterable[str | None], product_formats: Iterable[Iterable[str]]) -> list[int]:
    """Positions of the creatives whose format no selected product accepts: they could never run."""
    accepted = {f for formats in product_formats for f in formats}
    return [position for position, fmt in enumerate(creative_formats) if fmt is not None and fmt not in accepted]


def overallocation(total: Decimal, product_budgets: Iterable[Decimal]) -> Decimal:
    """How much the product budgets exceed the campaign's total (0 when they fit)."""
    return max(sum(product_budgets, Decimal(0)) - total, Decimal(0))
