"""The campaign update's rules: budget scaling figures, goal validity, action validity by status."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mediabuy_sync.domain.budgets import BudgetError, new_package_budgets, scale_to
from mediabuy_sync.domain.campaigns import action_error
from mediabuy_sync.domain.goals import goal_errors
from mediabuy_sync.domain.statuses import Status


def test_lowering_the_total_below_the_allocations_scales_them_proportionally():
    live = {"pkg_1": D("30000"), "pkg_2": D("20000")}
    assert new_package_budgets(D("40000"), live, {}) == {"pkg_1": D("24000.00"), "pkg_2": D("16000.00")}


def test_scaling_keeps_the_cents_exact_and_never_exceeds_the_total():
    live = {"a": D("100"), "b": D("100"), "c": D("100")}
    scaled = scale_to(D("100"), live)
    assert sum(scaled.values()) == D("100")
    assert sorted(scaled.values()) == [D("33.33"), D("33.33"), D("33.34")]
    assert scaled == scale_to(D("100"), dict(reversed(live.items())))  # order does not matter


def test_a_total_that_still_covers_the_allocations_changes_nothing():
    live = {"pkg_1": D("300"), "pkg_2": D("200")}
    assert new_package_budgets(D("500"), live, {}) == live
    assert new_package_budgets(D("900"), live, {}) == live


def test_named_package_budgets_are_kept_instead_of_scaling():
    live = {"pkg_1": D("300"), "pkg_2": D("200")}
    assert new_package_budgets(D("400"), live, {"pkg_1": D("250"), "pkg_2": D("150")}) == {"pkg_1": D("250"), "pkg_2": D("150")}


def test_named_package_budgets_win_and_the_others_scale_into_what_is_left():
    live = {"pkg_1": D("300"), "pkg_2": D("200"), "pkg_3": D("100")}
    # 400 - 250 named = 150 left for 200 + 100: scaled 2:1
    assert new_package_budgets(D("400"), live, {"pkg_1": D("250")}) == {
        "pkg_1": D("250"), "pkg_2": D("100.00"), "pkg_3": D("50.00")}
    # the others still fit beside the named one: they keep theirs (never scaled up)
    assert new_package_budgets(D("1000"), live, {"pkg_1": D("500")}) == {"pkg_1": D("500"), "pkg_2": D("200"), "pkg_3": D("100")}
    # the named ones take the whole total: the others get nothing
    assert new_package_budgets(D("400"), live, {"pkg_1": D("400")}) == {"pkg_1": D("400"), "pkg_2": D("0.00"), "pkg_3": D("0.00")}


def test_named_budgets_alone_over_the_total_are_insufficient_media_budget():
    with pytest.raises(BudgetError) as info:
        new_package_budgets(D("400"), {"pkg_1": D("300"), "pkg_2": D("200")}, {"pkg_1": D("500")})
    assert info.value.code == "INSUFFICIENT_MEDIA_BUDGET" and info.value.details == {"requested": "500", "total": "400"}


def test_a_named_package_that_is_not_live_is_a_validation_error():
    with pytest.raises(BudgetError) as info:
        new_package_budgets(D("400"), {"pkg_1": D("300")}, {"pkg_x": D("10")})
    assert info.value.code == "VALIDATION_ERROR" and info.value.details == {"packageIds": ["pkg_x"]}


@pytest.mark.parametrize(
    "goal",
    [
        {"kind": "event", "event_sources": [{"event_source_id": "px", "event_type": "purchase"}],
         "target": {"kind": "cost_per", "value": 25.0}},
        {"kind": "event", "event_sources": [{"event_source_id": "px", "event_type": "purchase"}],
         "target": {"kind": "per_ad_spend", "value": 4}},
        {"kind": "event", "event_sources": [{"event_source_id": "px", "event_type": "purchase"}],
         "target": {"kind": "maximize_value"}},
        {"kind": "metric", "metric": "completed_views", "target": {"kind": "cost_per", "value": 0.08}},
        {"kind": "metric", "metric": "attention_score", "target": {"kind": "threshold_rate", "value": 0.6}},
        {"kind": "metric", "metric": "clicks"},
    ],
)
def test_valid_goals(goal):
    assert goal_errors(goal) == []


@pytest.mark.parametrize(
    "goal, complaint",
    [
        ({"kind": "budget"}, "kind must be one of"),
        ({"kind": "event", "target": {"kind": "cost_per", "value": 1}}, "needs event_sources"),
        ({"kind": "metric", "metric": "conversions"}, "metric must be one of"),
        ({"kind": "metric", "metric": "clicks", "target": {"kind": "per_ad_spend", "value": 2}}, "takes targets"),
        ({"kind": "metric", "metric": "clicks", "target": {"kind": "maximize_value"}}, "takes targets"),
        ({"kind": "event", "event_sources": [{}], "target": {"kind": "threshold_rate", "value": 0.5}}, "takes targets"),
        ({"kind": "event", "event_sources": [{}], "target": {"kind": "maximize_value", "value": 3}}, "takes no value"),
        ({"kind": "metric", "metric": "views", "target": {"kind": "cost_per", "value": 0}}, "needs a positive value"),
    ],
)
def test_invalid_goals_say_why(goal, complaint):
    assert any(complaint in e for e in goal_errors(goal)), goal_errors(goal)


@pytest.mark.parametrize("status", list(Status))
def test_cancel_applies_exactly_to_live_buys(status):
    allowed = status in {Status.ACTIVE, Status.PAUSED, Status.PENDING_APPROVAL, Status.INPUT_REQUIRED}
    assert (action_error("cancel", status) is None) == allowed


def test_a_draft_buy_is_deleted_not_canceled_and_a_live_one_may_be_either():
    assert "delete (archive) it instead" in action_error("cancel", Status.DRAFT)
    assert action_error("delete", Status.DRAFT) is None
    # a live buy's delete is canceled at its agent and then archived (services/campaigns/update.py)
    for status in (Status.ACTIVE, Status.PAUSED, Status.PENDING_APPROVAL, Status.INPUT_REQUIRED):
        assert action_error("delete", status) is None and action_error("cancel", status) is None
    assert action_error("delete", Status.ARCHIVED) is not None
