"""domain: how long each kind of record is kept, and the time partitions that make expiry cheap.

The two tables that grow with traffic — the inbox (webhook_events, raw bodies) and the ledger
(status_changes) — are partitioned by id, and their ids are time-ordered: the UTC day number in
the high bits, a sequence in the low ones (migration 0027's time_ordered_id). So a lookup by id
(a drain, a replay) reads one partition, and a day's rows sit in that day's partition: expiry
drops a partition instead of deleting rows. The run records (sync runs, cascades) are few and are
deleted by rows (services/retention.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

EPOCH = date(1970, 1, 1)
# 2^36 ids per day before the sequence's low bits wrap (68 billion); the day number above them
# keeps every id below 2^53 until the 2330s, so ids stay exact as JSON numbers in any client.
DAY_BITS = 36
# Rows written before partitioning (small identity ids) all fall below this bound: the partition
# that holds them is "<table>_legacy", FROM (MINVALUE) TO (LEGACY_BOUND) — the first id of 2020-01-01.
LEGACY_DAY = date(2020, 1, 1)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def first_id(day: date) -> int:
    """The smallest id a row written on this UTC day can have."""
    return day_number(day) << DAY_BITS


def day_of_id(row_id: int) -> date:
    return EPOCH + timedelta(days=row_id >> DAY_BITS)


LEGACY_BOUND = first_id(LEGACY_DAY)


@dataclass(frozen=True)
class PartitionedTable:
    name: str
    span_days: int           # days per partition: the unit in which rows expire
    keep_setting: str        # the Settings field giving the days its rows are kept
    time_column: str         # the row's own time, for the legacy partition's newest row
    # A unique index each partition gets (the parent cannot have it: it would have to include id).
    # For the inbox it is the dedup of the same day; older days are probed (store/sql/inbox.sql).
    unique_per_partition: tuple[str, ...] = ()
    # Partitions holding rows in these states are never dropped: an event not yet applied, or dead
    # and waiting for an operator's replay, is data we accepted (docs/data-lifecycle.md).
    pending_states: tuple[str, ...] = ()


INBOX = PartitionedTable("webhook_events", 1, "retention_days", "received_at",
                         unique_per_partition=("agent_id", "idempotency_key"),
                         pending_states=("received", "dead"))
# The ledger is read by entity across all its partitions (a campaign's history): months, not
# days, so that a history read probes a dozen partitions, not hundreds.
LEDGER = PartitionedTable("status_changes", 30, "ledger_retention_days", "at")
PARTITIONED = (INBOX, LEDGER)


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    start: date | None   # None: the legacy partition, FROM (MINVALUE)
    end: date            # exclusive


def partition_start(table: PartitionedTable, day: date) -> date:
    """The first day of the partition that holds this day's rows (spans aligned on day 0)."""
    n = day_number(day)
    return EPOCH + timedelta(days=n - n % table.span_days)


def partition_for(table: PartitionedTable, start: date) -> Partition:
    return Partition(table.name, f"{table.name}_p{start:%Y%m%d}", start, start + timedelta(days=table.span_days))


def wanted(table: PartitionedTable, today: date, ahead_days: int) -> list[Partition]:
    """The partitions that must exist so that rows written from today to today + ahead_days land."""
    found, start = [], partition_start(table, today)
    while start <= today + timedelta(days=ahead_days):
        found.append(partition_for(table, start))
        start += timedelta(days=table.span_days)
    return found


def keep_days(table: PartitionedTable, retention_days: int, dedup_days: int, ledger_days: int) -> int:
    """Days a table's rows are kept. The inbox's rows are also its dedup state, so they are kept at
    least the dedup horizon, whatever MEDIABUY_RETENTION_DAYS says."""
    if table is INBOX:
        return max(retention_days, dedup_days)
    return ledger_days


def expired(partition: Partition, newest: date | None, today: date, days: int) -> bool:
    """Whether every row a partition can hold is older than `days` days. The legacy partition has no
    day bounds: its newest row decides (an empty one has expired)."""
    horizon = today - timedelta(days=days)
    if partition.start is None:
        return newest is None or newest < horizon
    return partition.end <= horizon
