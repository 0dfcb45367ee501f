"""The campaign plan's rules (domain/plans.py), and how validation errors name their fields."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from mediabuy_sync.domain import plans
from mediabuy_sync.web.errors import flatten_messages, validation_error

T = datetime(2027, 3, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def test_a_flight_ends_after_it_starts():
    assert plans.flight_error(T, T + DAY) is None
    assert plans.flight_error(T, T) and plans.flight_error(T + DAY, T)


def test_the_daily_cap_fits_in_the_total():
    assert plans.daily_cap_error(None, Decimal(10)) is None
    assert plans.daily_cap_error(Decimal(10), Decimal(10)) is None
    assert plans.daily_cap_error(Decimal("10.01"), Decimal(10))


def test_a_pacing_period_lies_within_the_flight_and_ends_after_it_starts():
    assert plans.period_errors(T, T + DAY, T, T + 30 * DAY) == []
    assert plans.period_errors(T - DAY, T + DAY, T, T + 30 * DAY) == ["A pacing period must lie within the campaign's flight."]
    assert plans.period_errors(T + 2 * DAY, T + DAY, T, T + 30 * DAY) == ["A pacing period must end after it starts."]
    assert len(plans.period_errors(T + 40 * DAY, T + 31 * DAY, T, T + 30 * DAY)) == 2


def test_pacing_period_budgets_fit_in_the_product_budget_and_may_be_left_out():
    assert plans.periods_budget_error([Decimal(3), None, Decimal(7)], Decimal(10)) is None
    assert plans.periods_budget_error([], Decimal(10)) is None
    assert plans.periods_budget_error([Decimal(3), Decimal("7.01")], Decimal(10))


def test_repeated_finds_every_later_duplicate_and_ignores_missing_keys():
    assert plans.repeated(["a", "b", "a", None, None, "b", "a"]) == [2, 5, 6]
    assert plans.repeated([("x", 1), ("x", 2), ("x", 1)]) == [2]


def test_a_creative_no_product_accepts_is_unplaceable():
    assert plans.unplaceable_creatives(["video", "audio", None, "banner"], [["video"], ["banner", "native"]]) == [1]


def test_overallocation_is_what_the_products_exceed_the_total_by():
    assert plans.overallocation(Decimal(100), [Decimal(60), Decimal(40)]) == 0
    assert plans.overallocation(Decimal(100), [Decimal(60), Decimal("40.01")]) == Decimal("0.01")


def test_validation_errors_name_each_field_as_a_dotted_path():
    messages = {"name": ["Missing data for required field."],
                "products": {0: {"budget": ["Not a valid number."]}, 2: {"_schema": ["Invalid input type."]}},
                "flightDates": {"_schema": ["The flight must end after it starts."]},
                "_schema": ["Invalid input type."],
                "products.1.pacingPeriods.0": ["A pacing period must end after it starts."]}

    assert flatten_messages(messages) == {
        "name": ["Missing data for required field."],
        "products.0.budget": ["Not a valid number."],
        "products.2": ["Invalid input type."],
        "flightDates": ["The flight must end after it starts."],
        "": ["Invalid input type."],
        "products.1.pacingPeriods.0": ["A pacing period must end after it starts."],
    }
    error = validation_error({"json": messages})
    assert (error.status, error.code, error.field) == (422, "VALIDATION_ERROR", "name")
    assert error.details["location"] == "body" and "body" in error.details["fields"]  # the top-level error
    assert error.message.startswith("name: Missing data") and "(and 5 more fields)" in error.message
