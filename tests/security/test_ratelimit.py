"""The per-agent token bucket (web/ratelimit.py), on a clock of the test's own: no services."""

from __future__ import annotations

from mediabuy_sync.web.ratelimit import AgentRateLimiter, retry_after_header


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_burst_then_the_rate():
    clock = Clock()
    limiter = AgentRateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == 0.5  # one token every 1/2 s
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_agents_have_buckets_of_their_own():
    limiter = AgentRateLimiter(rate=1, burst=1, clock=Clock())
    assert limiter.acquire("noisy") == 0.0
    assert limiter.acquire("noisy") > 0
    assert limiter.acquire("quiet") == 0.0


def test_the_bucket_refills_to_its_size_only():
    clock = Clock()
    limiter = AgentRateLimiter(rate=10, burst=2, clock=clock)
    limiter.acquire("a")
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(3)][2] > 0


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"
    assert retry_after_header(float("inf")) == "60"
