"""domain/retention.py: time-ordered ids, the partitions a day needs, and when one has expired."""

from __future__ import annotations

from datetime import date, timedelta

from mediabuy_sync.domain.retention import (
    INBOX, LEDGER, LEGACY_BOUND, Partition, day_of_id, expired, first_id, keep_days, partition_for, partition_start,
    wanted,
)

TODAY = date(2026, 12, 5)


def test_ids_carry_their_day_and_stay_exact_as_json_numbers():
    assert day_of_id(first_id(TODAY)) == TODAY
    assert day_of_id(first_id(TODAY + timedelta(days=1)) - 1) == TODAY
    assert first_id(date(2300, 1, 1)) < 2 ** 53
    assert LEGACY_BOUND == first_id(date(2020, 1, 1)) and LEGACY_BOUND > 10 ** 15  # far above identity ids


def test_the_inbox_needs_a_partition_a_day_and_the_ledger_one_per_30_days():
    assert [p.name for p in wanted(INBOX, TODAY, 2)] == \
        ["webhook_events_p20261205", "webhook_events_p20261206", "webhook_events_p20261207"]
    months = wanted(LEDGER, TODAY, 7)
    assert months[0].start <= TODAY < months[0].end and months[-1].end > TODAY + timedelta(days=7)
    assert all(p.end - p.start == timedelta(days=30) for p in months)
    # aligned on day 0, whatever the day asked: every process names the same partitions
    assert partition_start(LEDGER, months[0].start + timedelta(days=29)) == months[0].start
    assert (months[0].start - date(1970, 1, 1)).days % 30 == 0


def test_a_partition_expires_once_its_last_day_is_older_than_the_days_kept():
    day = partition_for(INBOX, TODAY - timedelta(days=31))
    assert expired(day, None, TODAY, 30)
    assert not expired(partition_for(INBOX, TODAY - timedelta(days=30)), None, TODAY, 30)
    legacy = Partition("webhook_events", "webhook_events_legacy", None, date(2020, 1, 1))
    assert expired(legacy, None, TODAY, 30)  # empty
    assert expired(legacy, TODAY - timedelta(days=31), TODAY, 30)
    assert not expired(legacy, TODAY - timedelta(days=3), TODAY, 30)


def test_the_inbox_is_kept_at_least_the_dedup_horizon():
    assert keep_days(INBOX, retention_days=30, dedup_days=7, ledger_days=400) == 30
    assert keep_days(INBOX, retention_days=3, dedup_days=7, ledger_days=400) == 7
    assert keep_days(LEDGER, retention_days=30, dedup_days=7, ledger_days=400) == 400
