"""What partitioning the inbox costs a webhook's insert: `python -m bench.dedup_cost [--quick]`.

Side by side in one run, alternating round by round, each on a database of its own holding the same
rows (30 days of events, the default retention, 30,000 a day; --quick 10,000):
- before: the inbox one table, UNIQUE (agent_id, idempotency_key), the insert as it was (ON CONFLICT
  naming that constraint) — migration 0026 and the statement of commit d905761;
- after: the inbox partitioned by day (migrations 0027-0030), store.inbox.store_events as shipped: the
  day's unique index plus a probe of the 7 earlier days' (docs/data-lifecycle.md).
Each round stores batches of 16 new webhooks (the web's group commit: one statement a batch), then
batches of 16 retries of stored ones (each then looked up alone, as store_events does), autocommit;
then reads stored events by id, each in a transaction with its lock (a drain's inbox.lock_event). The
figures are the median microseconds per webhook or lookup.
Runs in the environment bench/run sets up (DATABASE_URL); its databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from datetime import timedelta

import psycopg
from psycopg.rows import dict_row

from mediabuy_sync.domain.retention import INBOX, first_id, partition_for
from mediabuy_sync.store import inbox, partitions
from mediabuy_sync.store.databases import create_database, drop_database, with_database
from mediabuy_sync.store.migrate import upgrade

BATCH = 16
KINDS = ("new", "retries", "by id")
DAYS = 30  # MEDIABUY_RETENTION_DAYS: the partitions a live inbox has, beside the 8 ahead
# The insert before partitioning (store/sql/inbox.sql at d905761), for the "before" database.
BEFORE = """
WITH input (agent_id, idempotency_key, task_type, raw_body, request_id, position) AS (
    VALUES {rows}
), inserted AS (
    INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id)
    SELECT agent_id, idempotency_key, task_type, raw_body, request_id FROM input ORDER BY position
    ON CONFLICT (agent_id, idempotency_key) DO NOTHING
    RETURNING id, agent_id, idempotency_key
)
SELECT min(input.position) AS position, inserted.id
FROM inserted JOIN input USING (agent_id, idempotency_key)
GROUP BY inserted.id"""
BEFORE_ONE = """
WITH inserted AS (
    INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id)
    VALUES (%(agent_id)s, %(idempotency_key)s, %(task_type)s, %(raw_body)s, %(request_id)s)
    ON CONFLICT (agent_id, idempotency_key) DO NOTHING
    RETURNING id, raw_body
)
SELECT id, raw_body, true AS inserted FROM inserted
UNION ALL
SELECT id, raw_body, false FROM webhook_events
WHERE agent_id = %(agent_id)s AND idempotency_key = %(idempotency_key)s
LIMIT 1"""
BODY = '{"task_type":"media_buy_delivery","result":{"media_buy_deliveries":[{"media_buy_id":"mb_1","totals":' \
       '{"impressions":1200,"spend":34.5}}]}}'


def _fill(url: str, partitioned: bool, per_day: int) -> None:
    """DAYS days of processed events, each day's in its own partition on the partitioned inbox."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("INSERT INTO sales_agents (id, name, endpoint_uri, inbound_scheme) "
                     "VALUES ('agent_b', 'agent_b', 'http://127.0.0.1:9/mcp', 'hmac-sha256')")
        today = partitions.today(conn)
        for days_ago in range(1, DAYS + 1):
            day = today - timedelta(days=days_ago)
            if partitioned:
                partitions.create(conn, INBOX, partition_for(INBOX, day))
                ids = f"{first_id(day)} + g"
            else:
                ids = "DEFAULT"
            columns = "agent_id, idempotency_key, task_type, raw_body, received_at, state"
            select = (f"'agent_b', 'd{days_ago}-' || g, 'media_buy_delivery', %s, "
                      f"now() - make_interval(days => {days_ago}), 'processed'")
            if partitioned:
                conn.execute(f"INSERT INTO webhook_events (id, {columns}) SELECT {ids}, {select} "
                             "FROM generate_series(1, %s) g", (BODY, per_day))
            else:
                conn.execute(f"INSERT INTO webhook_events ({columns}) SELECT {select} "
                             "FROM generate_series(1, %s) g", (BODY, per_day))
        conn.execute("VACUUM ANALYZE webhook_events")


def _before(conn, events):
    """store_events as it was: the batch, then each event not inserted (a retry) looked up alone."""
    rows = ", ".join(f"(%s, %s, %s, %s, %s, {i})" for i in range(1, len(events) + 1))
    inserted = {r["position"] for r in conn.execute(BEFORE.replace("{rows}", rows), [v for e in events for v in e])}
    for position, (agent_id, key, task_type, body, request_id) in enumerate(events, 1):
        if position not in inserted:
            conn.execute(BEFORE_ONE, {"agent_id": agent_id, "idempotency_key": key, "task_type": task_type,
                                      "raw_body": body, "request_id": request_id}).fetchone()


def _after(conn, events):
    return inbox.store_events(conn, events)


def _round(conn, store, kind: str, batches: int, per_day: int) -> float:
    """Microseconds per webhook over `batches` batches of new webhooks, or of retries of stored ones;
    or per lookup of a stored event by id in a transaction (a drain's inbox.lock_event)."""
    started = time.perf_counter()
    if kind == "by id":
        ids = [row["id"] for row in conn.execute(
            "SELECT id FROM webhook_events TABLESAMPLE SYSTEM (1) LIMIT %s", (batches * BATCH,))]
        started = time.perf_counter()
        for event_id in ids:
            with conn.transaction():
                inbox.lock_event(conn, event_id)
        return (time.perf_counter() - started) / len(ids) * 1e6
    for i in range(batches):
        if kind == "retries":
            events = [("agent_b", f"d{1 + (i + j) % 7}-{1 + secrets.randbelow(per_day)}", "media_buy_delivery", BODY,
                       None) for j in range(BATCH)]
        else:
            events = [("agent_b", secrets.token_hex(8), "media_buy_delivery", BODY, None) for _ in range(BATCH)]
        store(conn, events)
    return (time.perf_counter() - started) / (batches * BATCH) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dedup_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    per_day, rounds, per_round = (10_000, 5, 100) if args.quick else (30_000, 9, 300)
    base = os.environ["DATABASE_URL"]
    run = f"mediabuy_dedup_{os.getpid()}"
    urls = {"before": with_database(base, f"{run}_before"), "after": with_database(base, f"{run}_after")}
    try:
        for name, url in urls.items():
            create_database(url)
            upgrade(url, to=26 if name == "before" else None)
            _fill(url, partitioned=name == "after", per_day=per_day)
        samples: dict[tuple[str, str], list[float]] = {}
        conns = {name: psycopg.connect(url, autocommit=True, row_factory=dict_row) for name, url in urls.items()}
        for _ in range(rounds):
            for kind in KINDS:
                for name, store in (("before", _before), ("after", _after)):
                    samples.setdefault((kind, name), []).append(_round(conns[name], store, kind, per_round, per_day))
        for conn in conns.values():
            conn.close()
        print(f"{DAYS} days of {per_day:,} events a day (retries of the last 7); batches of {BATCH}; {rounds} rounds of {per_round} batches "
              "each, before and after alternating")
        for kind in KINDS:
            before, after = (statistics.median(samples[(kind, name)]) for name in ("before", "after"))
            print(f"{kind:>7}: before (one table) {before:7.1f} us, after (day partitions) {after:7.1f} us "
                  f"a {'lookup' if kind == 'by id' else 'webhook'}; after / before {after / before:.2f}")
    finally:
        for url in urls.values():
            drop_database(url)


if __name__ == "__main__":
    main()
