"""store: the partitions of the inbox and the ledger — listed, created ahead, dropped when expired.

What is kept how long, and which partitions a day needs, is domain/retention.py; the beat job that
calls this is services/retention.py.
"""

from __future__ import annotations

import re
from datetime import date, timezone

import psycopg
from psycopg import sql

from ..domain.retention import PARTITIONED, Partition, PartitionedTable, day_of_id, first_id, wanted
from .db import queries

Q = queries("partitions")

_BOUND = re.compile(r"FROM \((?:MINVALUE|'?(-?\d+)'?)\) TO \('?(-?\d+)'?\)")


def _compose(name: str, **parts) -> sql.Composed:
    return sql.SQL(Q[name]).format(**parts)


def bound_days(bound: str | None) -> tuple[date | None, date] | None:
    """(first day, day after the last) of a partition's bound as PostgreSQL prints it; first day None
    for FROM (MINVALUE); None for anything else (not a partition, a DEFAULT one)."""
    match = _BOUND.search(bound or "")
    if match is None:
        return None
    return (None if match[1] is None else day_of_id(int(match[1]))), day_of_id(int(match[2]))


def existing(conn: psycopg.Connection, table: PartitionedTable) -> list[Partition]:
    """The table's partitions, oldest first; [] if it is not partitioned (before migration 0029)."""
    found = []
    for row in conn.execute(Q["list"], {"parent": table.name}).fetchall():
        if (days := bound_days(row["bound"])) is not None:
            found.append(Partition(table.name, row["name"], *days))
    return sorted(found, key=lambda p: (p.start is not None, p.start or date.min))


def today(conn: psycopg.Connection) -> date:
    """The UTC day by the database's clock: the one time_ordered_id() puts in the ids it makes."""
    return conn.execute(Q["today"]).fetchone()["today"]


def ensure_ahead(conn: psycopg.Connection, ahead_days: int) -> list[str]:
    """Create the partitions rows written from today to today + ahead_days need; their names.
    Nothing for a table not partitioned yet (migration 0029 calls this itself)."""
    created, day = [], today(conn)
    for table in PARTITIONED:
        have = existing(conn, table)
        if not have:
            continue
        names = {p.name for p in have}
        for partition in wanted(table, day, ahead_days):
            if partition.name not in names:
                create(conn, table, partition)
                created.append(partition.name)
    return created


def days_ahead(conn: psycopg.Connection) -> dict[str, int]:
    """{table: days from today that its partitions still cover}: rows are refused past them, so /metrics
    shows it (an alert below 2 says beat's keep-data job has not run for days)."""
    day = today(conn)
    return {table.name: (max(p.end for p in have) - day).days
            for table in PARTITIONED if (have := existing(conn, table))}


def create(conn: psycopg.Connection, table: PartitionedTable, partition: Partition) -> None:
    """Create a partition (and its unique index), within the caller's transaction. It locks the parent
    table as a drop does: at most 5 s of waiting (LockNotAvailable), then the next run tries again."""
    assert partition.start is not None
    conn.execute(Q["lock_timeout"])
    conn.execute(_compose("create", partition=sql.Identifier(partition.name), parent=sql.Identifier(table.name),
                          start=sql.Literal(first_id(partition.start)), end=sql.Literal(first_id(partition.end))))
    if table.unique_per_partition:
        conn.execute(_compose("create_unique", index=sql.Identifier(f"{partition.name}_dedup"),
                              partition=sql.Identifier(partition.name),
                              columns=sql.SQL(", ").join(map(sql.Identifier, table.unique_per_partition))))


def pending_states(conn: psycopg.Connection, table: PartitionedTable, partition: Partition) -> list[str]:
    """Which of the table's pending states (domain/retention.py) the partition holds rows in."""
    query = _compose("holds_pending", partition=sql.Identifier(partition.name))
    return [state for state in table.pending_states if conn.execute(query, {"state": state}).fetchone()["found"]]


def newest(conn: psycopg.Connection, table: PartitionedTable, partition: Partition) -> date | None:
    row = conn.execute(_compose("newest", partition=sql.Identifier(partition.name),
                                time_column=sql.Identifier(table.time_column))).fetchone()
    return None if row is None else row["at"].astimezone(timezone.utc).date()


def lock(conn: psycopg.Connection, partition: Partition) -> None:
    """Hold off every change to a partition's rows until the caller's transaction ends; waits at most
    5 s for the lock (LockNotAvailable), as drop() for its own."""
    conn.execute(Q["lock_timeout"])
    conn.execute(_compose("lock", partition=sql.Identifier(partition.name)))


def drop(conn: psycopg.Connection, partition: Partition) -> None:
    """Drop a partition, within the caller's transaction; waits at most 5 s for its locks."""
    conn.execute(Q["lock_timeout"])
    conn.execute(_compose("drop", partition=sql.Identifier(partition.name)))


def sizes(conn: psycopg.Connection) -> list[dict]:
    """{name, parent, partitioned, bytes, rows_estimate, days} for every table and partition; days as
    bound_days()."""
    return [{**row, "days": bound_days(row.pop("bound"))} for row in conn.execute(Q["sizes"]).fetchall()]

