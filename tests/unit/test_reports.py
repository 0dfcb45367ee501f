"""domain/reports.py: the ordering/transition guard and what a webhook says about buys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mediabuy_sync.adcp.payloads import load_webhook
from mediabuy_sync.domain.reports import Outcome, StatusReport, decide, reports_from_webhook
from mediabuy_sync.domain.statuses import Status

S = Status
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=1)
EARLIER = T0 - timedelta(seconds=1)


# --- decide ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reported_as_of", [EARLIER, T0], ids=["older", "equal"])
def test_decide_stale_when_not_newer(reported_as_of):
    # equal counts as stale: the buy already reflects that moment
    assert decide(S.ACTIVE, T0, S.PAUSED, reported_as_of) is Outcome.STALE


def test_decide_stale_wins_over_anomaly_and_unchanged():
    assert decide(S.ARCHIVED, T0, S.ACTIVE, EARLIER) is Outcome.STALE
    assert decide(S.ACTIVE, T0, S.ACTIVE, T0) is Outcome.STALE


def test_decide_stale_compares_instants_not_wall_clocks():
    # 13:00+01:00 is 12:00Z: equal instant → stale
    same_instant = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert decide(S.ACTIVE, T0, S.PAUSED, same_instant) is Outcome.STALE


def test_decide_unchanged():
    assert decide(S.ACTIVE, T0, S.ACTIVE, LATER) is Outcome.UNCHANGED


def test_decide_applied():
    assert decide(S.ACTIVE, T0, S.PAUSED, LATER) is Outcome.APPLIED


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        (S.ARCHIVED, S.ACTIVE),
        (S.COMPLETED, S.ACTIVE),
        (S.CANCELED, S.PAUSED),
        (S.DRAFT, S.COMPLETED),  # a create's answer may be any status but "done"
        (S.PAUSED, S.PENDING_APPROVAL),
    ],
)
def test_decide_anomaly_for_disallowed_transition(current, reported):
    assert decide(current, T0, reported, LATER) is Outcome.ANOMALY


@pytest.mark.parametrize(
    ("current", "reported", "outcome"),
    [
        (S.DRAFT, S.PENDING_APPROVAL, Outcome.APPLIED),
        (S.DRAFT, S.DRAFT, Outcome.UNCHANGED),
        (S.DRAFT, S.ACTIVE, Outcome.APPLIED),  # a synchronous create's answer
        (S.DRAFT, S.COMPLETED, Outcome.ANOMALY),
    ],
)
def test_decide_without_current_as_of_is_never_stale(current, reported, outcome):
    # a buy we never heard about has no as_of: any report is new, even one from long ago
    assert decide(current, None, reported, datetime(2000, 1, 1, tzinfo=UTC)) is outcome


def test_decide_accepts_current_as_a_string():
    # the database hands the current status back as text
    assert decide("ACTIVE", T0, S.PAUSED, LATER) is Outcome.APPLIED


# --- reports_from_webhook --------------------------------------------------------------------------


def payload(task_type="create_media_buy", status="completed", result=None, **extra):
    body = {
        "idempotency_key": "idem-0000000000000001",
        "operation_id": "op-1",
        "task_id": "task-1",
        "task_type": task_type,
        "status": status,
        "timestamp": "2026-03-01T12:00:00Z",
        **extra,
    }
    if result is not None:
        body["result"] = result
    return body


def only(reports: list[StatusReport]) -> StatusReport:
    assert len(reports) == 1
    return reports[0]


@pytest.mark.parametrize(
    ("result", "status", "adcp_status"),
    [
        ({"media_buy_id": "mb-1", "media_buy_status": "active"}, S.ACTIVE, "active"),  # ADCP 3.2
        ({"media_buy_id": "mb-1", "status": "active"}, S.ACTIVE, "active"),  # ADCP 3.0 / 3.1
        ({"media_buy_id": "mb-1", "media_buy_status": "pending_start"}, S.ACTIVE, "pending_start"),
        ({"media_buy_id": "mb-1", "media_buy_status": "pending_creatives"}, S.INPUT_REQUIRED, "pending_creatives"),
        ({"media_buy_id": "mb-1", "status": "pending_activation"}, S.PENDING_APPROVAL, "pending_activation"),
        ({"media_buy_id": "mb-1", "media_buy_status": "rejected"}, S.REJECTED, "rejected"),
        # 3.2's field wins when an agent sends both
        ({"media_buy_id": "mb-1", "media_buy_status": "paused", "status": "active"}, S.PAUSED, "paused"),
    ],
)
def test_create_completed_carries_the_media_buy_status(result, status, adcp_status):
    report = only(reports_from_webhook(payload(result=result)))
    assert report.status is status
    assert report.adcp_status == adcp_status
    assert report.adcp_media_buy_id == "mb-1"


@pytest.mark.parametrize("result", [None, {}, {"media_buy_id": "mb-1"}])
def test_create_completed_without_media_buy_status_says_nothing(result):
    report = only(reports_from_webhook(payload(result=result)))
    assert report.status is None
    assert report.adcp_status == "completed"


@pytest.mark.parametrize(
    ("task_status", "status"),
    [
        ("submitted", S.PENDING_APPROVAL),
        ("working", S.PENDING_APPROVAL),
        ("input-required", S.INPUT_REQUIRED),
        ("auth-required", S.INPUT_REQUIRED),
        ("failed", S.FAILED),
        ("rejected", S.REJECTED),
        ("canceled", S.CANCELED),
        ("unknown", None),
    ],
)
def test_create_task_statuses(task_status, status):
    report = only(reports_from_webhook(payload(status=task_status)))
    assert report.status is status
    assert report.adcp_status == task_status


def test_create_non_completed_task_ignores_a_result_status():
    # only a completed task defers to the result's media-buy status
    report = only(reports_from_webhook(payload(status="working", result={"media_buy_status": "active"})))
    assert report.status is S.PENDING_APPROVAL
    assert report.adcp_status == "working"


@pytest.mark.parametrize(
    ("result", "status", "adcp_status"),
    [
        ({"media_buy_id": "mb-1", "media_buy_status": "paused"}, S.PAUSED, "paused"),
        ({"media_buy_id": "mb-1", "status": "active"}, S.ACTIVE, "active"),
        ({"media_buy_id": "mb-1"}, None, "completed"),
    ],
)
def test_update_completed_carries_the_lifecycle(result, status, adcp_status):
    report = only(reports_from_webhook(payload("update_media_buy", "completed", result)))
    assert report.status is status
    assert report.adcp_status == adcp_status


@pytest.mark.parametrize(
    "task_status",
    ["submitted", "working", "input-required", "auth-required", "failed", "rejected", "canceled", "unknown"],
)
def test_update_not_completed_leaves_the_buy_alone(task_status):
    # a pending or failed *update* says nothing about the buy's lifecycle
    report = only(reports_from_webhook(payload("update_media_buy", task_status, {"media_buy_id": "mb-1"})))
    assert report.status is None
    assert report.adcp_status == task_status
    assert report.adcp_media_buy_id == "mb-1"


def test_delivery_gives_one_report_per_delivery():
    result = {
        "notification_type": "scheduled",
        "media_buy_deliveries": [
            {"media_buy_id": "mb-1", "status": "active", "totals": {"impressions": 10}},
            {"media_buy_id": "mb-2", "status": "reporting_delayed"},
            {"media_buy_id": "mb-3", "status": "failed"},
            {"media_buy_id": "mb-4"},  # no status: nothing to say about the lifecycle
        ],
    }
    reports = reports_from_webhook(payload("media_buy_delivery", "completed", result))
    assert [(r.adcp_media_buy_id, r.status, r.adcp_status) for r in reports] == [
        ("mb-1", S.ACTIVE, "active"),
        ("mb-2", None, "reporting_delayed"),
        ("mb-3", S.FAILED, "failed"),
        ("mb-4", None, None),
    ]
    # delivery reports correlate by the agent's media-buy id only
    assert all(r.operation_id is None and r.task_id is None for r in reports)
    assert all(r.as_of == datetime(2026, 3, 1, 12, 0, tzinfo=UTC) for r in reports)


@pytest.mark.parametrize("result", [None, {"media_buy_deliveries": []}])
def test_delivery_without_deliveries_gives_nothing(result):
    assert reports_from_webhook(payload("media_buy_delivery", "working", result)) == []


@pytest.mark.parametrize("task_type", ["sync_creatives", "get_products", "create_property_list"])
def test_other_task_types_give_nothing(task_type):
    assert reports_from_webhook(payload(task_type, "completed", {"media_buy_status": "active"})) == []


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T12:00:00.250Z", datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T14:00:00+02:00", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T07:30:00-04:30", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_to_aware_datetimes(timestamp, expected):
    report = only(reports_from_webhook(payload(timestamp=timestamp)))
    assert report.as_of.tzinfo is not None
    assert report.as_of.utcoffset() is not None
    assert report.as_of == expected


def test_validated_payload_datetime_passes_through():
    # ingest hands in load_webhook's output, whose timestamp is already a datetime
    validated = load_webhook(payload(timestamp="2026-03-01T14:00:00+02:00", result={"media_buy_status": "active"}))
    report = only(reports_from_webhook(validated))
    assert report.as_of == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert report.status is S.ACTIVE


def test_identifiers_are_carried():
    result = {"media_buy_id": "mb-42", "media_buy_status": "active"}
    body = payload(operation_id="op-42", task_id="task-42", result=result)
    report = only(reports_from_webhook(body))
    assert (report.operation_id, report.task_id, report.adcp_media_buy_id) == ("op-42", "task-42", "mb-42")


def test_missing_operation_id_and_media_buy_id_are_none():
    # some agents omit operation_id; correlation then falls back to the task id
    body = payload(status="working")
    del body["operation_id"]
    report = only(reports_from_webhook(body))
    assert report.operation_id is None
    assert report.adcp_media_buy_id is None
    assert report.task_id == "task-1"
