"""When a buy is polled next, and how a failing agent backs off."""

from __future__ import annotations

import random

import pytest

from mediabuy_sync.domain.polling import BACKOFF_CAP, BACKSTOP, RELAXED, SOON, backoff_seconds, next_poll_in
from mediabuy_sync.domain.statuses import POLLED, Status


@pytest.mark.parametrize("status", sorted(set(Status) - POLLED))
def test_terminal_and_draft_buys_are_not_polled(status):
    assert next_poll_in(status, None) is None
    assert next_poll_in(status, 1.0, "anomaly") is None


@pytest.mark.parametrize("status", sorted(POLLED))
@pytest.mark.parametrize("reason", ["submitted", "anomaly"])
def test_soon_after_submission_or_an_anomaly(status, reason):
    assert next_poll_in(status, 5.0, reason) == SOON == 30


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.PAUSED])
def test_live_buys_relax_while_webhooks_flow_and_fall_back_to_the_backstop(status):
    assert next_poll_in(status, 60.0) == RELAXED == 600
    assert next_poll_in(status, None) == BACKSTOP == 120
    assert next_poll_in(status, 3600.0) == BACKSTOP


@pytest.mark.parametrize("status", [Status.PENDING_APPROVAL, Status.INPUT_REQUIRED])
def test_a_buy_waiting_on_the_seller_is_polled_sooner_when_no_webhook_came(status):
    quiet = next_poll_in(status, None)
    flowing = next_poll_in(status, 10.0)
    assert quiet < flowing <= BACKSTOP
    assert quiet < next_poll_in(Status.ACTIVE, None)


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    rng = random.Random(7)
    samples = {n: [backoff_seconds(n, rng) for _ in range(200)] for n in (1, 2, 3, 4, 12)}
    assert all(2.5 <= s <= 5 for s in samples[1])
    assert all(5 <= s <= 10 for s in samples[2])
    assert all(20 <= s <= 40 for s in samples[4])
    assert max(samples[12]) <= BACKOFF_CAP and min(samples[12]) >= BACKOFF_CAP / 2
    assert len({round(s, 6) for s in samples[3]}) > 150  # jittered, not a fixed step


def test_an_unconfirmed_pending_start_is_still_awaiting_approval():
    from mediabuy_sync.domain.statuses import from_polled_media_buy

    assert from_polled_media_buy("pending_start", confirmed=False) == Status.PENDING_APPROVAL
    assert from_polled_media_buy("pending_start", confirmed=True) == Status.ACTIVE
    assert from_polled_media_buy("active", confirmed=False) == Status.ACTIVE
