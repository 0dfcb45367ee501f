"""Notifications to the buyer's systems, the pure parts: the Standard Webhooks signature (against the
specification's published test vector), the body's shape, and the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from datetime import datetime, timezone

import pytest

from mediabuy_sync.domain.notifications import gives_up, retry_delay
from mediabuy_sync.services.notification_delivery import body_of, signed_headers
from mediabuy_sync.services.webhook_subscriptions import new_secret, url_problem

# https://www.standardwebhooks.com/ — the specification's test vector
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_is_the_specifications_test_vector():
    headers = signed_headers(VECTOR_SECRET, VECTOR_ID, datetime.fromtimestamp(VECTOR_TIMESTAMP, timezone.utc), VECTOR_BODY)
    assert headers["webhook-id"] == VECTOR_ID
    assert headers["webhook-timestamp"] == str(VECTOR_TIMESTAMP)
    assert headers["webhook-signature"] == VECTOR_SIGNATURE


def test_the_signature_is_hmac_sha256_of_id_timestamp_body_with_the_decoded_secret():
    key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
    body = b'{"type":"campaign.status_changed"}'
    headers = signed_headers(VECTOR_SECRET, "msg_1", datetime.fromtimestamp(1700000000, timezone.utc), body)
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == "v1," + expected


def test_the_body_is_type_timestamp_and_data():
    created = datetime(2026, 12, 4, 22, 0, 5, tzinfo=timezone.utc)
    body = json.loads(body_of("campaign.status_changed", created, {"campaignId": "cmp_1", "status": "ACTIVE"}))
    assert body == {"type": "campaign.status_changed", "timestamp": "2026-12-04T22:00:05+00:00",
                    "data": {"campaignId": "cmp_1", "status": "ACTIVE"}}


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap():
    rng = random.Random(7)
    delays = [retry_delay(n, 30, 3600, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        full = min(3600, 30 * 2 ** (n - 1))
        assert full / 2 <= delay <= full
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered: no two alike


def test_a_delivery_gives_up_after_its_attempts_or_its_window():
    assert not gives_up(3, 60, max_attempts=20, max_age_seconds=86400)
    assert gives_up(20, 60, max_attempts=20, max_age_seconds=86400)
    assert gives_up(2, 86400, max_attempts=20, max_age_seconds=86400)


@pytest.mark.parametrize("url, refused", [
    ("https://hooks.buyer.example/mediabuy", False),
    ("https://hooks.buyer.example:8443/x?y=1", False),
    ("http://127.0.0.1:8080/hooks", False),
    ("http://[::1]:8080/hooks", False),
    ("http://localhost/hooks", False),
    ("http://hooks.buyer.example/mediabuy", True),  # in clear
    ("ftp://hooks.buyer.example/", True),
    ("https:///no-host", True),
    ("hooks.buyer.example/mediabuy", True),
    ("https://user:secret@hooks.buyer.example/", True),
    ("https://hooks.buyer.example/#frag", True),
    ("https://hooks.buyer.example:99999/", True),
    ("https://hooks.buyer.example/a b", True),
])
def test_receiver_urls_are_https_but_for_this_machine(url, refused):
    assert (url_problem(url) is not None) == refused


def test_secrets_are_standard_webhooks_secrets():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
