"""adcp/payloads.py: the ADCP webhook body schema, result validated per task_type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from mediabuy_sync.adcp.payloads import load_webhook


def minimal(**overrides):
    body = {
        "idempotency_key": "idem_key.0001:abc-def",
        "operation_id": "op-1",
        "task_id": "task-1",
        "task_type": "create_media_buy",
        "status": "working",
        "timestamp": "2026-03-01T12:00:00Z",
    }
    body.update(overrides)
    return body


def without(key, **overrides):
    body = minimal(**overrides)
    del body[key]
    return body


def rejected(document) -> dict:
    with pytest.raises(ValidationError) as info:
        load_webhook(document)
    return info.value.messages


# --- accepted --------------------------------------------------------------------------------------


def test_minimal_payload():
    loaded = load_webhook(minimal())
    assert loaded["idempotency_key"] == "idem_key.0001:abc-def"
    assert loaded["task_type"] == "create_media_buy"
    assert loaded["timestamp"] == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_operation_id_is_optional():
    # some agents omit it; we correlate by media buy id or task id then
    loaded = load_webhook(without("operation_id"))
    assert "operation_id" not in loaded


def test_unknown_fields_are_kept():
    loaded = load_webhook(
        minimal(
            future_field={"nested": [1, 2]},
            status="completed",
            result={"media_buy_id": "mb-1", "media_buy_status": "active", "packages": [{"package_id": "p1"}]},
        )
    )
    assert loaded["future_field"] == {"nested": [1, 2]}
    assert loaded["result"]["packages"] == [{"package_id": "p1"}]


@pytest.mark.parametrize("key", ["a" * 16, "a" * 255, "A-Z_a.z:0-9_long_enough"])
def test_idempotency_key_bounds_and_charset(key):
    assert load_webhook(minimal(idempotency_key=key))["idempotency_key"] == key


@pytest.mark.parametrize("timestamp", ["2026-03-01T12:00:00+02:00", "2026-03-01T12:00:00.123456-05:00"])
def test_offset_timestamps(timestamp):
    assert load_webhook(minimal(timestamp=timestamp))["timestamp"].utcoffset() is not None


@pytest.mark.parametrize("result_key", ["media_buy_status", "status"])
def test_create_result_both_protocol_versions(result_key):
    loaded = load_webhook(minimal(status="completed", result={"media_buy_id": "mb-1", result_key: "pending_start"}))
    assert loaded["result"][result_key] == "pending_start"


def test_valid_delivery_report():
    result = {
        "notification_type": "scheduled",
        "media_buy_deliveries": [
            {
                "media_buy_id": "mb-1",
                "status": "active",
                "totals": {"impressions": 0, "spend": 1.5, "clicks": 0},
                "by_package": [{"package_id": "p1", "impressions": 3}],
            }
        ],
    }
    assert load_webhook(minimal(task_type="media_buy_delivery", status="completed", result=result))["result"] == result


def test_in_progress_delivery_without_result():
    # only a *completed* delivery report must carry its deliveries
    load_webhook(minimal(task_type="media_buy_delivery", status="working"))


def test_other_task_type_result_not_checked():
    load_webhook(minimal(task_type="sync_creatives", result={"anything": "goes"}))


# --- rejected --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["idempotency_key", "task_id", "task_type", "status", "timestamp"])
def test_missing_required_field(field):
    assert field in rejected(without(field))


@pytest.mark.parametrize(
    "key",
    [
        "a" * 15,  # one short of 16
        "a" * 256,  # one past 255
        "idem key with spaces",
        "idem/key/with/slash",
        "idem-key-ünïcode-0001",
        "aaaaaaaaaaaaaaaa\n",  # a trailing newline must not slip past the charset check
    ],
    ids=["15-chars", "256-chars", "space", "slash", "non-ascii", "trailing-newline"],
)
def test_bad_idempotency_key(key):
    assert "idempotency_key" in rejected(minimal(idempotency_key=key))


def test_unknown_task_type():
    assert "task_type" in rejected(minimal(task_type="make_coffee"))


@pytest.mark.parametrize("status", ["done", "COMPLETED", "input_required"])
def test_unknown_status(status):
    assert "status" in rejected(minimal(status=status))


@pytest.mark.parametrize("timestamp", ["2026-03-01T12:00:00", "not a time", "", 1767268800])
def test_bad_timestamp(timestamp):
    # naive times are ambiguous: the ordering guard compares instants
    assert "timestamp" in rejected(minimal(timestamp=timestamp))


@pytest.mark.parametrize("document", [[], [minimal()], "a string", 42, None], ids=repr)
def test_non_object_body(document):
    messages = rejected(document)
    assert "_schema" in messages


@pytest.mark.parametrize(
    "result",
    [{"media_buy_status": "bogus"}, {"status": "bogus"}, {"media_buy_id": ""}],
)
@pytest.mark.parametrize("task_type", ["create_media_buy", "update_media_buy"])
def test_bad_media_buy_result(task_type, result):
    messages = rejected(minimal(task_type=task_type, status="completed", result=result))
    assert set(messages["result"]) == set(result)


def test_bad_delivery_result_missing_deliveries():
    result = {"notification_type": "final"}
    messages = rejected(minimal(task_type="media_buy_delivery", status="completed", result=result))
    assert "media_buy_deliveries" in messages["result"]


@pytest.mark.parametrize(
    ("delivery", "path"),
    [
        ({"media_buy_id": "mb-1", "totals": {"impressions": -1}}, ("totals", "impressions")),
        ({"media_buy_id": "mb-1", "totals": {"spend": -0.01}}, ("totals", "spend")),
        ({"media_buy_id": "mb-1", "by_package": [{"package_id": "p1", "clicks": -2}]}, ("by_package", 0, "clicks")),
        ({"media_buy_id": "mb-1", "status": "bogus"}, ("status",)),
        ({"status": "active"}, ("media_buy_id",)),
    ],
)
def test_bad_delivery_entry(delivery, path):
    messages = rejected(
        minimal(task_type="media_buy_delivery", status="completed", result={"media_buy_deliveries": [delivery]})
    )
    node = messages["result"]["media_buy_deliveries"][0]
    for step in path:
        node = node[step]
    assert node  # a non-empty error list at the offending field


def test_bad_notification_type():
    result = {"notification_type": "weekly", "media_buy_deliveries": []}
    messages = rejected(minimal(task_type="media_buy_delivery", status="completed", result=result))
    assert "notification_type" in messages["result"]


def test_completed_delivery_without_result():
    messages = rejected(minimal(task_type="media_buy_delivery", status="completed"))
    assert "result" in messages


@pytest.mark.parametrize("result", [[], "active", 3])
def test_result_must_be_an_object(result):
    assert "result" in rejected(minimal(status="completed", result=result))


def test_every_bad_field_is_named():
    messages = rejected(minimal(idempotency_key="short", status="bogus", timestamp="2026-03-01T12:00:00"))
    assert {"idempotency_key", "status", "timestamp"} <= set(messages)


def test_sync_creatives_result_is_validated():
    good = {"creatives": [{"creative_id": "cr_1", "action": "created", "status": "approved", "assigned_to": ["p1"]}]}
    assert load_webhook(minimal(task_type="sync_creatives", result=good))["result"] == good
    errors = rejected(minimal(task_type="sync_creatives", result={"creatives": [{"action": "created", "status": "maybe"}]}))
    assert {"creative_id", "status"} <= set(errors["result"]["creatives"][0])
