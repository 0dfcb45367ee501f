"""The pure pieces of operations: webhook outcomes as metric labels, JSON log lines and their redaction,
the request id we accept, the charts. (tests/integration/test_ops.py runs them for real.)"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from mediabuy_sync import logs
from mediabuy_sync.web.dashboard_chart import events_per_minute, inbox_lag, line_chart
from mediabuy_sync.web.ingress import webhook_outcome


def envelope(code, message="m", details=None):
    return {"data": None, "error": {"code": code, "message": message, "details": details}}


@pytest.mark.parametrize(("status", "answer", "expected"), [
    (202, {"data": {"event_id": 1}}, ("accepted", "")),
    (200, {"data": {"event_id": 1, "duplicate": True}}, ("duplicate", "")),
    (401, envelope("UNAUTHORIZED", details={"reason": "webhook_signature_invalid"}), ("rejected", "webhook_signature_invalid")),
    (401, envelope("UNAUTHORIZED", details={"reason": "<script>"}), ("rejected", "unauthorized")),  # never a made-up label
    (400, envelope("VALIDATION_ERROR", details={"fields": {}}), ("rejected", "invalid_payload")),
    (400, envelope("BAD_REQUEST", "The body is not valid JSON."), ("rejected", "not_json")),
    (400, envelope("BAD_REQUEST", details={"reason": "webhook_body_malformed"}), ("rejected", "webhook_body_malformed")),
    (404, envelope("NOT_FOUND"), ("rejected", "not_found")),
    (408, envelope("REQUEST_TIMEOUT"), ("rejected", "slow_body")),
    (409, envelope("CONFLICT"), ("rejected", "conflict")),
    (413, envelope("PAYLOAD_TOO_LARGE"), ("rejected", "payload_too_large")),
    (415, envelope("UNSUPPORTED_MEDIA_TYPE"), ("rejected", "unsupported_media_type")),
    (429, envelope("RATE_LIMITED"), ("rejected", "rate_limited")),
    (503, envelope("SERVICE_UNAVAILABLE"), ("error", "unavailable")),
    (500, None, ("error", "internal_error")),
])
def test_each_webhook_answer_is_one_outcome_and_reason(status, answer, expected):
    assert webhook_outcome(status, answer) == expected


def format_line(message, *args, exc=None, **extra) -> dict:
    record = logging.LogRecord("mediabuy_sync.x", logging.INFO, __file__, 1, message, args, exc)
    record.__dict__.update(extra)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_log_line_is_one_json_object_with_the_context():
    token = logs.bind(request_id="req-1", event_id=7, campaign_id=None)
    try:
        line = format_line("event %s done\nsecond line", 7, media_buy_id="mb_1")
    finally:
        logs.reset(token)
    assert line["message"] == "event 7 done\nsecond line"
    assert (line["request_id"], line["event_id"], line["media_buy_id"]) == ("req-1", 7, "mb_1")
    assert "campaign_id" not in line  # None is not bound
    assert line["level"] == "INFO" and line["logger"] == "mediabuy_sync.x" and line["ts"].endswith("Z")


@pytest.mark.parametrize("text", [
    "Authorization: Bearer s3cr3t-t0ken-value",
    "connecting to postgresql://postgres:hunter2-pw@db:5432/x",
    'push config {"credentials": "x", "secret": "abcd1234abcd"}',
    "token=abcdefgh1234 and more",
    "X-AdCP-Signature: sha256=0123456789abcdef0123456789abcdef",
])
def test_secrets_are_masked(text):
    line = format_line(text)
    for secret in ("s3cr3t-t0ken-value", "hunter2-pw", "abcd1234abcd", "abcdefgh1234", "0123456789abcdef0123"):
        assert secret not in line["message"]
    assert "[redacted]" in line["message"]


def test_exceptions_are_in_the_same_line_and_masked_too():
    try:
        raise RuntimeError("failed with token=abcdefgh1234")
    except RuntimeError:
        import sys

        line = format_line("boom", exc=sys.exc_info())
    assert "RuntimeError" in line["exc"] and "abcdefgh1234" not in line["exc"]


@pytest.mark.parametrize(("header", "kept"), [
    ("abc-123_x.y:z", True), ("a" * 64, True), ("a" * 65, False), ("has space", False), ('x"}{"level', False),
    (None, False), ("", False),
])
def test_the_request_id_of_a_caller_is_kept_only_when_plain(header, kept):
    rid = logs.request_id_from(header)
    assert (rid == header) is kept
    assert 1 <= len(rid) <= 64


def test_the_charts_are_svg_with_a_line_per_agent_and_nothing_from_elsewhere():
    now = datetime(2026, 11, 26, 12, 0, 30, tzinfo=timezone.utc)
    minute = now.replace(second=0)
    rows = [{"agent_id": "a", "minute": minute, "events": 5},
            {"agent_id": "b", "minute": minute - timedelta(minutes=3), "events": 2},
            {"agent_id": "<y>", "minute": minute - timedelta(minutes=59), "events": 1},
            {"agent_id": "old", "minute": minute - timedelta(hours=2), "events": 9}]  # outside the hour: dropped
    svg = str(events_per_minute(rows, now))
    assert svg.startswith("<svg") and svg.count("<polyline") == 3  # a, b, <y>
    assert "<y>" not in svg and "&lt;y&gt;" in svg and ">old<" not in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    lag = str(inbox_lag([{"minute": minute, "lag_seconds": 12.5}]))
    assert "inbox lag" in lag and lag.count("<polyline") == 1
    assert "nothing in the last hour" in str(line_chart({}, "t", "u"))
