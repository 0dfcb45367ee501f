"""domain: the campaign's surfaced status — the most restrictive status across its media buys."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .statuses import PRECEDENCE, Status


@dataclass(frozen=True)
class Rollup:
    status: Status | None  # None: the campaign has no media buys yet
    blockers: tuple[str, ...]  # ids of the buys whose status decides it


def rollup(buys: Iterable[tuple[str, Status]]) -> Rollup:
    """Surface the most restrictive status of (media_buy_id, status) pairs, and which buys hold it.

    Blockers come sorted so that equal inputs give equal outputs whatever the row order.
    """
    best: Status | None = None
    blockers: list[str] = []
    for buy_id, status in buys:
        status = Status(status)
        if best is None or PRECEDENCE[status] < PRECEDENCE[best]:
            best, blockers = status, [buy_id]
        elif status is best:
            blockers.append(buy_id)
    return Rollup(best, tuple(sorted(blockers)))


def most_restrictive(statuses: Iterable[Status | str]) -> Status | None:
    """The status a campaign surfaces when its buys have these statuses (None: no buys).

    What the store asks when PostgreSQL has already counted the buys per status: the same rule as
    `rollup`, on the distinct statuses only (a campaign of 10,000 buys has a handful).
    """
    return min((Status(s) for s in statuses), key=PRECEDENCE.__getitem__, default=None)
