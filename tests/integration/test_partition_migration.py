"""Migrating a filled database to the partitioned inbox and ledger (migrations 0027-0029) while webhooks
keep being stored, as docs/data-lifecycle.md tells an operator to: the release first, then
`db upgrade --to 27`, `--to 28` (the scan), and the rest. Nothing refused, nothing lost or stored
twice, and the validation scan does not stop the writer."""

from __future__ import annotations

import threading
import time

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from mediabuy_sync.devtools import services as devservices
from mediabuy_sync.domain.retention import INBOX, LEGACY_BOUND, first_id
from mediabuy_sync.store import inbox, partitions
from mediabuy_sync.store.migrate import upgrade

ROWS = 300_000  # events and as many ledger rows, bodies of 300 bytes: ~150 MB with indexes


class Writer(threading.Thread):
    """Stores a webhook after another, as the web does, each a transaction; every tenth one is a
    retry of an event stored before the migration."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.stop, self.done, self.errors = url, threading.Event(), [], []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            i = 0
            while not self.stop.is_set():
                key = "old-5" if i % 10 == 9 else f"live-{i}"
                started = time.monotonic()
                try:
                    with conn.transaction():
                        stored = inbox.store_event(conn, "agent_m", key, "media_buy_delivery", "{}")
                    self.done.append((started, time.monotonic(), key, stored))
                except psycopg.Error as exc:
                    self.errors.append(f"{key}: {exc}")
                i += 1


def _phase(writer: Writer, since: float, until: float) -> tuple[int, float]:
    """(webhooks stored within [since, until], the longest any of them waited)."""
    inside = [(end - start) for start, end, _, _ in writer.done if start >= since and end <= until]
    return len(inside), max(inside, default=0.0)


def test_a_filled_database_is_partitioned_while_webhooks_keep_being_stored(database):
    url = devservices.with_database(database, conninfo_to_dict(database)["dbname"] + "_partition_migration")
    devservices.create_database(url)
    try:
        upgrade(url, to=26)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO sales_agents (id, name, endpoint_uri, inbound_scheme) "
                          "VALUES ('agent_m', 'agent_m', 'http://127.0.0.1:9/mcp', 'hmac-sha256')")
            conn.execute("INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, received_at, "
                         "state, processed_at) SELECT 'agent_m', 'old-' || g, 'media_buy_delivery', repeat('x', 300), "
                         "now() - (g %% 20) * interval '1 day', 'processed', now() FROM generate_series(1, %s) g",
                         (ROWS,))
            conn.execute("INSERT INTO status_changes (entity_type, entity_id, to_status, source, event_id, outcome) "
                         "SELECT 'media_buy', 'mb_' || (g %% 1000), 'active', 'webhook', g, 'applied' "
                         "FROM generate_series(1, %s) g", (ROWS,))
            conn.execute("ANALYZE webhook_events, status_changes")
            old_5 = conn.execute("SELECT id FROM webhook_events WHERE idempotency_key = 'old-5'").fetchone()[0]

        writer = Writer(url)
        writer.start()
        time.sleep(0.3)
        steps = {}
        for name, to in (("prepare", 27), ("validate", 28), ("switch", None)):
            started = time.monotonic()
            upgrade(url, to=to)
            steps[name] = (started, time.monotonic())
        time.sleep(0.3)
        writer.stop.set()
        writer.join(10)

        assert writer.errors == []
        for name, (since, until) in steps.items():
            stored, longest = _phase(writer, since, until)
            print(f"{name}: {until - since:.3f} s, {stored} webhooks stored meanwhile, longest wait {longest:.3f} s")
        # the scan of 0028 holds no lock a writer waits for: webhooks were stored while it ran
        assert _phase(writer, *steps["validate"])[0] > 0

        retries = [stored for _, _, key, stored in writer.done if key == "old-5"]
        assert retries and all((s.event_id, s.inserted) == (old_5, False) for s in retries)
        live = [(key, stored) for _, _, key, stored in writer.done if key != "old-5"]
        assert all(stored.inserted for _, stored in live)
        switched = steps["switch"][1]
        after = [stored.event_id for (start, _, key, stored) in writer.done if key != "old-5" and start > switched]
        assert after, "no webhook was stored after the switch"
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            today = partitions.today(conn)
            assert all(first_id(today) <= event_id for event_id in after)  # time-ordered, today's partition
            counts = conn.execute(
                "SELECT count(*) FILTER (WHERE idempotency_key LIKE 'old-%') AS old, "
                "count(*) FILTER (WHERE idempotency_key LIKE 'live-%') AS live, "
                "count(DISTINCT idempotency_key) FILTER (WHERE idempotency_key LIKE 'live-%') AS live_keys "
                "FROM webhook_events").fetchone()
            assert counts == {"old": ROWS, "live": len(live), "live_keys": len(live)}
            assert conn.execute("SELECT count(*) AS n FROM status_changes").fetchone()["n"] == ROWS
            assert conn.execute("SELECT count(*) AS n FROM webhook_events_legacy WHERE id >= %s",
                                (LEGACY_BOUND,)).fetchone()["n"] == 0
            # an old event is found by id (the legacy partition), a new one too (its day's)
            assert conn.execute("SELECT idempotency_key FROM webhook_events WHERE id = %s",
                                (old_5,)).fetchone()["idempotency_key"] == "old-5"
            assert conn.execute("SELECT count(*) AS n FROM webhook_events WHERE id = %s", (after[-1],)).fetchone()["n"] == 1
            names = {p.name for p in partitions.existing(conn, INBOX)}
            assert {"webhook_events_legacy", f"webhook_events_p{today:%Y%m%d}"} <= names
        assert upgrade(url) == []  # running migrate again changes nothing
    finally:
        devservices.drop_database(url)

