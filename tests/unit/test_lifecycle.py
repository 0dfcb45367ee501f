"""domain/lifecycle.py: what a campaign reports, when its lifecycle completes, what blocks its archive,
and which flight changes and dates its actions accept — row by row."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mediabuy_sync.domain.lifecycle import (
    completes, flight_change_error, flight_error, live_buys, reported_status,
)
from mediabuy_sync.domain.statuses import Status

NOW = datetime(2027, 3, 31, 12, tzinfo=timezone.utc)
ENDED, ENDS = NOW - timedelta(hours=1), NOW + timedelta(hours=1)


def test_reported_status_is_the_rollup_or_the_lifecycle_without_buys():
    assert reported_status("ACTIVE", "INPUT_REQUIRED") == "INPUT_REQUIRED"
    assert reported_status("DRAFT", None) == "DRAFT"


@pytest.mark.parametrize("lifecycle, statuses, end, expected", [
    ("ACTIVE", ["COMPLETED"], ENDED, True),
    ("PAUSED", ["COMPLETED", "CANCELED", "REJECTED", "FAILED", "ARCHIVED"], ENDED, True),
    ("ACTIVE", ["COMPLETED"], ENDS, False),  # the flight is not over: a seller's early word
    ("ACTIVE", ["COMPLETED", "ACTIVE"], ENDED, False),  # a buy still delivers
    ("ACTIVE", ["CANCELED", "REJECTED"], ENDED, False),  # nothing completed: not a completed campaign
    ("ACTIVE", [], ENDED, False),
    ("DRAFT", ["COMPLETED"], ENDED, False),
    ("ARCHIVED", ["COMPLETED"], ENDED, False),
    ("ACTIVE", ["COMPLETED"], None, False),
])
def test_completes(lifecycle, statuses, end, expected):
    assert completes(lifecycle, statuses, end, NOW) is expected


def test_live_buys_are_those_not_done_nor_drafts():
    buys = [("mb_b", Status.ACTIVE), ("mb_a", Status.PENDING_APPROVAL), ("mb_c", Status.COMPLETED),
            ("mb_d", Status.DRAFT), ("mb_e", Status.REJECTED), ("mb_f", Status.INPUT_REQUIRED), ("mb_g", Status.PAUSED)]
    assert live_buys(buys) == ["mb_a", "mb_b", "mb_f", "mb_g"]


def test_flight_error_names_the_end_date():
    assert flight_error(ENDED - timedelta(days=30), ENDED, NOW) == (
        "the flight ended on 2027-03-31: extend flightDates first")
    assert flight_error(NOW + timedelta(days=1), NOW + timedelta(days=2), NOW) is None  # not started: fine
    assert flight_error(None, None, NOW) is None


START = NOW - timedelta(days=10)


@pytest.mark.parametrize("lifecycle, new_start, new_end, fields", [
    ("DRAFT", NOW + timedelta(days=1), NOW + timedelta(days=3), None),  # a draft takes any flight
    ("ACTIVE", START, ENDS + timedelta(days=5), None),  # extended
    ("PAUSED", START, ENDS, None),  # unchanged
    ("ACTIVE", START, ENDS - timedelta(minutes=30), {"flightDates.endDate"}),  # shortened
    ("ACTIVE", START + timedelta(days=1), ENDS + timedelta(days=5), {"flightDates.startDate"}),  # moved
    ("COMPLETED", START, ENDS + timedelta(days=5), {"flightDates"}),
])
def test_flight_change_error(lifecycle, new_start, new_end, fields):
    errors = flight_change_error(lifecycle, START, ENDS, new_start, new_end, NOW)
    assert (set(errors) if errors else None) == fields


def test_an_ended_flight_may_be_extended_but_not_into_the_past():
    assert flight_change_error("ACTIVE", START, ENDED - timedelta(hours=5), START, ENDED, NOW) == {
        "flightDates.endDate": ["The new end is already past."]}
    assert flight_change_error("ACTIVE", START, ENDED, START, ENDS, NOW) is None
