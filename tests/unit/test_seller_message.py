"""domain/reports.py and adcp/requests.py: what the seller said with a status (its `message`, else its
`errors`' messages) travels with the report, so the buyer can read why a buy is INPUT_REQUIRED or REJECTED."""

from __future__ import annotations

import pytest

from mediabuy_sync.adcp.payloads import load_webhook
from mediabuy_sync.adcp.requests import read_create_answer
from mediabuy_sync.domain.reports import reports_from_webhook, seller_message
from mediabuy_sync.domain.statuses import Status


def webhook(status: str, result: dict | None = None, **extra) -> dict:
    body = {"idempotency_key": "idem-0000000000000001", "operation_id": "op-1", "task_id": "task-1",
            "task_type": "create_media_buy", "status": status, "timestamp": "2026-03-01T12:00:00Z", **extra}
    if result is not None:
        body["result"] = result
    return load_webhook(body)


@pytest.mark.parametrize(("holder", "said"), [
    ({"message": "  Need creatives.  "}, "Need creatives."),
    ({"message": "Top.", "errors": [{"code": "X", "message": "Not this."}]}, "Top."),
    ({"errors": [{"code": "A", "message": "First."}, {"code": "B", "message": "Second."}]}, "First.; Second."),
    ({"message": "   ", "errors": [{"code": "A"}, {"code": "B", "message": ""}]}, None),
    ({"errors": "not a list"}, None),
    ({}, None),
    (None, None),
    ("text", None),
])
def test_seller_message(holder, said):
    assert seller_message(holder) == said


def test_a_long_message_is_cut():
    assert len(seller_message({"message": "x" * 5000})) == 2000


def test_a_rejection_webhook_carries_its_words():
    [report] = reports_from_webhook(webhook("rejected", {"media_buy_id": "mb-1", "errors": [
        {"code": "PRODUCT_UNAVAILABLE", "message": "Inventory is gone."}]}, message="Inventory is gone, sorry."))
    assert (report.status, report.message) == (Status.REJECTED, "Inventory is gone, sorry.")
    # only errors: their messages
    [report] = reports_from_webhook(webhook("rejected", {"media_buy_id": "mb-1", "errors": [
        {"code": "PRODUCT_UNAVAILABLE", "message": "Inventory is gone."}]}))
    assert report.message == "Inventory is gone."


def test_an_input_required_webhook_carries_its_words_and_an_active_one_none():
    [report] = reports_from_webhook(webhook("input-required", {"media_buy_id": "mb-1"}, message="Send creatives."))
    assert (report.status, report.message) == (Status.INPUT_REQUIRED, "Send creatives.")
    [report] = reports_from_webhook(webhook("completed", {"media_buy_id": "mb-1", "media_buy_status": "active"}))
    assert (report.status, report.message) == (Status.ACTIVE, None)


def test_a_create_answer_carries_its_words():
    answer = read_create_answer({"data": {"status": "input-required", "task_id": "t-1",
                                          "message": "Approved; assign creatives."}})
    assert (answer.status, answer.message) == (Status.INPUT_REQUIRED, "Approved; assign creatives.")
    assert read_create_answer({"data": {"status": "submitted", "task_id": "t-1"}}).message is None
