"""The buyer actions' pure rules and the ADCP requests they send: package budgets at execute, the
creative_ids and goal rules, merged frequency caps, retries, and requests the SDK's models accept."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from mediabuy_sync.adcp import requests as adcp
from mediabuy_sync.domain.cascades import idempotency_key, is_retryable, retry_countdown
from mediabuy_sync.domain.creatives import creative_ids_errors, creatives_for
from mediabuy_sync.domain.frequency_caps import merged_frequency_caps
from mediabuy_sync.domain.goals import goals_diff
from mediabuy_sync.domain.packages import plan_packages, split_by_weight
from mediabuy_sync.domain.statuses import Status

T0 = datetime(2027, 3, 1, tzinfo=timezone.utc)


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_without_pacing_periods_one_package_spans_the_flight_with_the_product_budget():
    [package] = plan_packages(D("5000"), [], T0, days(30))
    assert (package.index, package.label, package.start, package.end, package.budget) == (0, None, T0, days(30), D("5000"))


def test_named_period_budgets_are_kept_and_the_rest_is_shared_by_duration():
    periods = [{"label": "a", "startTime": T0, "endTime": days(10), "budget": 3000},
               {"label": "b", "startTime": days(10), "endTime": days(20)},
               {"label": "c", "startTime": days(20), "endTime": days(30)}]
    packages = plan_packages(D("6000"), periods, T0, days(30))
    assert [(p.index, p.label, p.budget) for p in packages] == [(0, "a", D("3000.00")), (1, "b", D("1500.00")),
                                                                (2, "c", D("1500.00"))]


def test_periods_without_budgets_split_the_product_budget_by_duration_to_the_cent():
    periods = [{"label": str(i), "startTime": days(i), "endTime": days(i + 1)} for i in range(3)]
    budgets = [p.budget for p in plan_packages(D("100"), periods, T0, days(3))]
    assert budgets == [D("33.34"), D("33.33"), D("33.33")] and sum(budgets) == D("100")
    assert split_by_weight(D("10"), {"a": 3, "b": 1}) == {"a": D("7.50"), "b": D("2.50")}


def test_creative_ids_must_be_linked_and_of_an_accepted_format_and_are_never_filtered():
    manifest = {"cr_video": "video_15s", "cr_banner": "display_300x250"}
    assert creative_ids_errors(["cr_video"], manifest, {"video_15s"}) == []
    assert creative_ids_errors([], manifest, {"video_15s"}) == []
    errors = creative_ids_errors(["cr_nope", "cr_banner", "cr_video"], manifest, {"video_15s"})
    assert len(errors) == 2 and "cr_nope" in errors[0] and "cr_banner" in errors[1]


def test_packages_carry_the_override_or_the_manifest_filtered_by_their_formats():
    manifest = {"cr_video": "video_15s", "cr_banner": "display_300x250", "cr_v2": "video_15s"}
    assert creatives_for(["video_15s"], manifest, None) == ["cr_v2", "cr_video"]
    assert creatives_for(["video_15s"], manifest, ["cr_video"]) == ["cr_video"]
    assert creatives_for(["video_15s"], manifest, []) == []


def test_a_goal_change_needs_no_confirmation_and_its_diff_says_what_changes():
    goal = [{"kind": "metric", "metric": "clicks"}]
    views = [{"kind": "metric", "metric": "views"}]
    assert goals_diff(goal, goal) == {"before": goal, "after": goal, "changed": False}
    assert goals_diff(None, []) == {"before": [], "after": [], "changed": False}
    assert goals_diff(goal, views) == {"before": goal, "after": views, "changed": True}


def test_campaign_and_advertiser_caps_merge_to_the_lowest_per_period_shortest_first():
    merged = merged_frequency_caps([{"maxImpressions": 5, "per": "day"}, {"maxImpressions": 20, "per": "week"}],
                                   [{"maxImpressions": 3, "per": "day"}, {"maxImpressions": 1, "per": "hour"}])
    assert merged == [{"maxImpressions": 1, "per": "hour"}, {"maxImpressions": 3, "per": "day"},
                      {"maxImpressions": 20, "per": "week"}]
    assert adcp.frequency_cap(merged) == {"max_impressions": 1, "per": "individuals",
                                          "window": {"interval": 1, "unit": "hours"}}
    assert adcp.frequency_cap([]) is None


@pytest.mark.parametrize("kind, adcp_error, retry", [
    ("unreachable", None, True), ("timeout", None, True), ("not_ready", None, True),
    ("agent_error", {"code": "SERVICE_UNAVAILABLE"}, True), ("agent_error", {"recovery": "transient"}, True),
    ("agent_error", {"codes": ["RATE_LIMITED"]}, True),
    ("agent_error", {"code": "INVALID_STATE", "recovery": "terminal"}, False), ("bad_response", None, False),
])
def test_only_what_another_attempt_may_fix_is_retried(kind, adcp_error, retry):
    assert is_retryable(kind, adcp_error) is retry


def test_retry_countdowns_grow_and_stay_within_a_few_seconds():
    rng = random.Random(1)
    ceilings = [max(retry_countdown(n, rng) for _ in range(200)) for n in (1, 2, 3, 10)]
    assert ceilings[0] <= 0.5 < ceilings[2] and all(c <= 5.0 for c in ceilings)


def test_idempotency_keys_are_stable_per_item_distinct_and_protocol_shaped():
    key = idempotency_key(7, "mb_1")
    assert key == idempotency_key(7, "mb_1") != idempotency_key(8, "mb_1") != idempotency_key(7, "mb_2")
    assert 16 <= len(key) <= 255 and key.replace("-", "").isalnum()


def test_create_answers_read_submitted_and_completed():
    submitted = adcp.read_create_answer({"status": "completed", "task_id": None, "data": {
        "status": "submitted", "task_id": "task_1", "ext": {"media_buy_id": "sa_1"}}})
    assert (submitted.status, submitted.adcp_status, submitted.adcp_media_buy_id, submitted.task_id) == (
        Status.PENDING_APPROVAL, "submitted", "sa_1", "task_1")
    done = adcp.read_create_answer({"status": "completed", "data": {
        "status": "completed", "media_buy_id": "sa_2", "media_buy_status": "active", "packages": [{"package_id": "x"}]}})
    assert (done.status, done.adcp_media_buy_id, done.packages) == (Status.ACTIVE, "sa_2", [{"package_id": "x"}])
    unconfirmed = adcp.read_create_answer({"data": {"status": "completed", "media_buy_status": "pending_start"}})
    assert unconfirmed.status == Status.PENDING_APPROVAL
    with pytest.raises(ValueError):
        adcp.read_create_answer({"data": {"status": "exploded"}})


def test_agent_package_ids_are_learnt_by_context_else_by_position():
    ours = [("pkg_a", "display"), ("pkg_b", "video")]
    assert adcp.match_packages(ours, [{"package_id": "x2", "context": {"package_id": "pkg_b"}},
                                      {"package_id": "x1", "context": {"package_id": "pkg_a"}}]) == {
        "pkg_a": "x1", "pkg_b": "x2"}
    assert adcp.match_packages(ours, [{"package_id": "x1", "product_id": "display"},
                                      {"package_id": "x2", "product_id": "video"}]) == {"pkg_a": "x1", "pkg_b": "x2"}
    assert adcp.match_packages(ours, [{"package_id": "x1", "product_id": "video"},
                                      {"package_id": "x2", "product_id": "display"}]) == {}


def test_requests_name_the_agents_ids_once_resolved():
    body = adcp.update_media_buy("adv", "mb_1", paused=True, packages=[{"package_id": "pkg_a", "paused": True}])
    resolved = adcp.with_agent_ids(body, "sa_1", {"pkg_a": "sa_1_pkg1"})
    assert resolved["media_buy_id"] == "sa_1" and resolved["packages"] == [{"package_id": "sa_1_pkg1", "paused": True}]
    sync = adcp.sync_creatives("adv", ["cr"], [("cr", "pkg_a")], [("old", "pkg_a")])
    assert adcp.package_refs(sync) == ["pkg_a", "pkg_a"]
    assert {op["package_id"] for op in adcp.with_agent_ids(sync, None, {"pkg_a": "p1"})["assignment_operations"]} == {"p1"}


def _create_request(now: datetime) -> dict:
    campaign = {"id": "cmp_1", "advertiser_id": "adv_1", "name": "Spring", "flight_start": now - timedelta(hours=1),
                "flight_end": now + timedelta(days=3), "currency": "USD",
                "property_list": {"agentUrl": "https://lists.example", "listId": "pl_1"}}
    goals = [{"kind": "event", "event_sources": [{"event_source_id": "px", "event_type": "signup"}],
              "target": {"kind": "cost_per", "value": 5.0}},
             {"kind": "metric", "metric": "completed_views", "target": {"kind": "threshold_rate", "value": 0.7}}]
    packages = [adcp.NewPackage("pkg_a", "display", "cpm_fixed", D("1000.50"), "even", D("2.5"), now - timedelta(hours=1),
                                now + timedelta(days=1), ["cr_1"]),
                adcp.NewPackage("pkg_b", "display", "cpm", D("999.50"), None, None, None, None, [])]
    push = adcp.push_notification_config("http://hooks.example/webhooks/adcp/a", "mb_1", "hmac-sha256", 7)
    reporting = adcp.reporting_webhook("http://hooks.example/webhooks/adcp/a", "mb_1", "hmac-sha256", 7)
    return adcp.create_media_buy(buy_id="mb_1", campaign=campaign, account_id="acc_seller_1", packages=packages, goals=goals,
                                 caps=[{"maxImpressions": 3, "per": "day"}], push=push, brand_domain="acme.example",
                                 now=now, reporting=reporting)


def test_the_create_request_is_what_the_protocol_expects():
    now = datetime.now(timezone.utc)
    request = _create_request(now)
    assert request["start_time"] == "asap" and request["total_budget"] == {"amount": 2000.0, "currency": "USD"}
    assert request["account"] == {"account_id": "acc_seller_1"}  # the seller's id, not our advertiser's
    assert request["brand"] == {"domain": "acme.example"}
    first = request["packages"][0]
    assert first["context"] == {"package_id": "pkg_a"} and first["creative_assignments"] == [{"creative_id": "cr_1"}]
    assert first["start_time"] >= now.isoformat()[:16]  # a period that started is sent as starting now
    assert first["targeting_overlay"] == {"property_list": {"agent_url": "https://lists.example", "list_id": "pl_1"}}
    event = first["optimization_goals"][0]["event_sources"][0]
    assert (event["event_type"], event["custom_event_name"]) == ("custom", "signup")
    assert request["push_notification_config"]["authentication"] == {"schemes": ["HMAC-SHA256"],
                                                                     "credentials": {"$credential": 7}}
    assert "authentication" not in adcp.push_notification_config("http://h/x", "mb_1", "rfc9421", None)
    # delivery reports asked for, with the same authentication (some sellers send none otherwise)
    assert request["reporting_webhook"]["authentication"] == request["push_notification_config"]["authentication"]
    assert request["reporting_webhook"]["reporting_frequency"] == "hourly"
    assert adcp.reporting_webhook("http://h/x", "mb_1", "rfc9421", None) is None


def test_every_request_validates_against_the_sdk_models():
    from adcp import types  # the agents extra: always installed by ./dev, never skipped
    request = _create_request(datetime.now(timezone.utc))
    request["push_notification_config"]["authentication"]["credentials"] = "s" * 40  # as the worker sends it
    request["reporting_webhook"]["authentication"]["credentials"] = "s" * 40
    types.CreateMediaBuyRequest.model_validate({**request, "idempotency_key": idempotency_key(1, "mb_1")})
    for body in (adcp.update_media_buy("adv", "sa_1", paused=True, packages=[{"package_id": "p", "paused": True}]),
                 adcp.update_media_buy("adv", "sa_1", canceled=True, cancellation_reason="done"),
                 adcp.update_media_buy("adv", "sa_1", frequency_cap=adcp.frequency_cap([{"maxImpressions": 2, "per": "week"}]),
                                       ext={"frequency_caps": []}),
                 adcp.update_media_buy("adv", "sa_1", packages=[{"package_id": "p", "budget": 24000.0, "bid_price": 2.5,
                                                                 **adcp.property_list_fields({"list_id": "x"})}])):
        types.UpdateMediaBuyRequest.model_validate({**body, "idempotency_key": idempotency_key(1, "mb_1")})
    types.SyncCreativesRequest.model_validate(
        {**adcp.sync_creatives("adv", ["cr"], [("cr", "p")], [("old", "p")]), "idempotency_key": idempotency_key(1, "x")})


def test_a_sellers_buy_shows_an_update_or_not():
    from mediabuy_sync.domain.cascades import effect_shown

    pause = {"media_buy_id": "sa_1", "paused": True, "packages": [{"package_id": "p1", "paused": True}]}
    packages = [{"package_id": "p1", "paused": True}, {"package_id": "p2", "paused": False, "canceled": True}]
    assert effect_shown(pause, "paused", packages) is True
    assert effect_shown(pause, "active", [{"package_id": "p1", "paused": False}]) is False  # "done", nothing paused
    assert effect_shown(pause, "pending_start", [{"package_id": "p1", "paused": True}]) is True  # a pending buy's packages
    assert effect_shown({"media_buy_id": "sa_1", "paused": False}, "active", []) is True
    assert effect_shown({"media_buy_id": "sa_1", "canceled": True}, "active", []) is False
    cancel_one = {"media_buy_id": "sa_1", "packages": [{"package_id": "p2", "canceled": True}]}
    assert effect_shown(cancel_one, "active", packages) is True
    assert effect_shown(cancel_one, "active", []) is None  # the seller lists no packages: nothing to check
    budget = {"media_buy_id": "sa_1", "packages": [{"package_id": "p1", "budget": 2500.0}]}
    assert effect_shown(budget, "active", [{"package_id": "p1", "budget": 2500}]) is True
    assert effect_shown(budget, "active", [{"package_id": "p1", "budget": 3000}]) is False
    assert effect_shown({"media_buy_id": "sa_1", "frequency_cap": {}}, "active", packages) is None
