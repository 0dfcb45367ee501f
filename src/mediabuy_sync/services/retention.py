"""services: keeping data as long as it is needed and no longer — beat's keep-data job.

Each run (MEDIABUY_RETENTION_INTERVAL_SECONDS, once a period however many beats) creates the inbox's
and the ledger's partitions ahead, drops those whose every row has expired, and deletes run records
finished before their horizon, a batch per transaction. The rules are domain/retention.py; what is
kept how long, and why, is docs/data-lifecycle.md.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import psycopg

from ..config import Settings, settings
from ..domain.retention import PARTITIONED, expired, keep_days
from ..queue.names import KEEP_DATA
from ..store import cascades, partitions, sync_runs
from ..store.db import transaction
from ..store.periodic import claim_turn

log = logging.getLogger(__name__)

# Rows deleted per transaction, and transactions per run: a backlog of run records (the first run
# after an upgrade) is worked off over a few runs rather than in one long transaction.
DELETE_BATCH = 5000
DELETE_BATCHES_PER_RUN = 20


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    # partitions expired but kept: {name: why} (events not yet applied or dead; a lock not granted)
    kept: dict[str, str] = field(default_factory=dict)
    deleted_sync_runs: int = 0
    deleted_cascades: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def run() -> Report | None:
    """The keep-data job; None if another beat's tick ran it this period."""
    s = settings()
    with transaction() as conn:
        if not claim_turn(conn, KEEP_DATA, s.retention_interval_seconds):
            return None
    report = keep(s)
    if report.created or report.dropped or report.kept or report.deleted_sync_runs or report.deleted_cascades:
        log.info("data kept: %s", report.as_dict())
    return report


def keep(s: Settings) -> Report:
    """One pass, whoever's turn: callable directly (tests, `mediabuy-sync db keep-data`)."""
    report = Report()
    try:
        with transaction() as conn:
            report.created = partitions.ensure_ahead(conn, s.partitions_ahead_days)
    except psycopg.errors.LockNotAvailable:  # days ahead remain (mediabuy_partition_days_ahead): next run
        log.warning("partitions ahead not created: a table was busy for 5 s")
    _drop_expired(s, report)
    report.deleted_sync_runs = _delete_in_batches(sync_runs.delete_finished, s.run_retention_days)
    report.deleted_cascades = _delete_in_batches(cascades.delete_finished, s.run_retention_days)
    return report


def _drop_expired(s: Settings, report: Report) -> None:
    with transaction() as conn:
        today = partitions.today(conn)
        candidates = [(table, p) for table in PARTITIONED for p in partitions.existing(conn, table)]
    for table, partition in candidates:
        days = keep_days(table, s.retention_days, s.dedup_days, s.ledger_retention_days)
        # each partition in its own transaction: one kept (locked, pending events) keeps no other
        try:
            with transaction() as conn:
                newest = partitions.newest(conn, table, partition) if partition.start is None else None
                if not expired(partition, newest, today, days):
                    continue
                # no row of it changes state between the look and the drop (an operator's replay, say)
                partitions.lock(conn, partition)
                if pending := partitions.pending_states(conn, table, partition):
                    report.kept[partition.name] = "holds " + " and ".join(f"{state} events" for state in pending)
                    continue
                partitions.drop(conn, partition)
            report.dropped.append(partition.name)
        except psycopg.errors.LockNotAvailable:
            report.kept[partition.name] = "its table was busy for 5 s: dropped at a later run"


def _delete_in_batches(delete, days: int) -> int:
    deleted = 0
    for _ in range(DELETE_BATCHES_PER_RUN):
        with transaction() as conn:
            n = delete(conn, days, DELETE_BATCH)
        deleted += n
        if n < DELETE_BATCH:
            break
    return deleted
