"""domain: the campaign's lifecycle and its end — the status a campaign reports, when it completes, when
it may be archived, and the flight dates its actions need — as data and pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .campaigns import CampaignStatus
from .statuses import Status

# A buy in one of these will not deliver again: the seller finished it, or it never ran.
TERMINAL = frozenset({Status.COMPLETED, Status.CANCELED, Status.REJECTED, Status.FAILED, Status.ARCHIVED})

# Lifecycles the flight-end rule may end: a paused campaign's buys can complete too (the flight ran out).
COMPLETABLE_FROM = frozenset({CampaignStatus.ACTIVE, CampaignStatus.PAUSED})

# A campaign is archived (a soft delete) only when nothing of it is live at an agent any more.
ARCHIVED_WITH_CAMPAIGN = frozenset({Status.DRAFT, Status.COMPLETED, Status.CANCELED, Status.FAILED, Status.REJECTED})


def reported_status(lifecycle: str, surfaced: str | None) -> str:
    """What `status` says: the most restrictive status of the buys; the lifecycle while there are none."""
    return surfaced or lifecycle


def completes(lifecycle: str, buy_statuses: Iterable[Status | str], flight_end: datetime | None, now: datetime) -> bool:
    """Whether the campaign's lifecycle turns COMPLETED: its flight is over and every buy is terminal,
    at least one of them COMPLETED (all canceled or rejected is not a completed campaign)."""
    statuses = {Status(s) for s in buy_statuses}
    return (lifecycle in COMPLETABLE_FROM and flight_end is not None and flight_end <= now
            and bool(statuses) and statuses <= TERMINAL and Status.COMPLETED in statuses)


def live_buys(buys: Iterable[tuple[str, Status | str]]) -> list[str]:
    """The ids of (id, status) buys that keep a campaign from being archived: those not terminal."""
    return sorted(buy_id for buy_id, status in buys if Status(status) not in TERMINAL | {Status.DRAFT})


def flight_error(start: datetime | None, end: datetime | None, now: datetime) -> str | None:
    """Why execute or reactivate can't run now (the flight is over), or None."""
    if end is not None and end <= now:
        return f"the flight ended on {end.date().isoformat()}: extend flightDates first"
    return None


def flight_change_error(lifecycle: str, old_start: datetime | None, old_end: datetime | None,
                        new_start: datetime, new_end: datetime, now: datetime) -> dict[str, list[str]] | None:
    """Why flightDates can't change this way, as {field: [messages]}, or None.

    A DRAFT campaign may take any flight. A live one may only be extended: its agents hold buys for the
    flight they were sent, and a shorter or moved flight would strand delivery already booked. Its start
    stays as it is once started; before the start, the start may not move either (its buys were
    submitted for it)."""
    if lifecycle == CampaignStatus.DRAFT:
        return None
    if lifecycle not in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        return {"flightDates": [f"The flight of a {lifecycle} campaign can't change."]}
    errors: dict[str, list[str]] = {}
    if old_start is not None and new_start != old_start:
        errors["flightDates.startDate"] = [
            f"A live campaign's start can't move (it is {old_start.isoformat()}): only its end may be extended."]
    if old_end is not None and new_end < old_end:
        errors["flightDates.endDate"] = [
            f"A live campaign's flight can't be shortened (it ends {old_end.isoformat()}): only extended."]
    elif new_end <= now:
        errors["flightDates.endDate"] = ["The new end is already past."]
    return errors or None
