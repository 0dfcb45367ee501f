"""Data lifecycle against the run's PostgreSQL (issue 18, docs/data-lifecycle.md): the inbox's dedup
across its day partitions, the keep-data job (partitions ahead, expired ones dropped unless they hold
pending or dead events, the ledger by month, run records by rows), the job through beat's task on the
real worker, and /ops's storage page."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import psycopg
import pytest
import requests

from mediabuy_sync.config import settings
from mediabuy_sync.domain.retention import INBOX, LEDGER, first_id, partition_for, partition_start
from mediabuy_sync.queue.names import KEEP_DATA
from mediabuy_sync.queue.publisher import publisher
from mediabuy_sync.services.retention import keep
from mediabuy_sync.store import inbox, partitions
from mediabuy_sync.store.db import transaction

BEARER = {"Authorization": "Bearer test-admin-token-of-at-least-32-bytes"}  # tests/conftest.py


@pytest.fixture
def agent_id(db):
    agent = "agent_ret_" + secrets.token_hex(4)
    db("INSERT INTO sales_agents (id, name, endpoint_uri, inbound_scheme) VALUES (%s, %s, 'http://127.0.0.1:9/mcp', "
       "'hmac-sha256')", (agent, agent))
    return agent


def _today():
    with transaction() as conn:
        return partitions.today(conn)


def _event_days_ago(db, agent_id: str, days: int, key: str, state: str = "processed") -> int:
    """An inbox row as the web would have stored it `days` days ago, in that day's partition."""
    day = _today() - timedelta(days=days)
    with transaction() as conn:
        partitions.create(conn, INBOX, partition_for(INBOX, day))
    row_id = first_id(day) + secrets.randbelow(1 << 30)
    db("INSERT INTO webhook_events (id, agent_id, idempotency_key, task_type, raw_body, received_at, state) "
       "VALUES (%s, %s, %s, 'media_buy_delivery', '{}', now() - make_interval(days => %s), %s)",
       (row_id, agent_id, key, days, state))
    return row_id


def test_a_retry_is_a_duplicate_within_the_dedup_window_whatever_day_it_was_first_received(db, agent_id):
    assert settings().dedup_days == 7
    three_days = _event_days_ago(db, agent_id, 3, "k-3d")
    nine_days = _event_days_ago(db, agent_id, 9, "k-9d")
    with transaction() as conn:
        again = inbox.store_event(conn, agent_id, "k-3d", "media_buy_delivery", "{}")
        beyond = inbox.store_event(conn, agent_id, "k-9d", "media_buy_delivery", "{}")
        fresh = inbox.store_event(conn, agent_id, "k-new", "media_buy_delivery", "{}")
        fresh_again = inbox.store_event(conn, agent_id, "k-new", "media_buy_delivery", "{}")
    assert (again.event_id, again.inserted) == (three_days, False)
    # past the window a key is new again: the sellers' retries stop well before (SELLERS.md)
    assert beyond.inserted and beyond.event_id != nine_days
    assert fresh.inserted and (fresh_again.event_id, fresh_again.inserted) == (fresh.event_id, False)
    # a new event's id is today's: in today's partition, found there by id alone
    assert first_id(_today()) <= fresh.event_id < first_id(_today() + timedelta(days=1))

    # the web's batch statement (group commit) dedups the same way, within the batch too
    with psycopg.connect(settings().database_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        stored = inbox.store_events(conn, [(agent_id, key, "media_buy_delivery", "{}", None)
                                           for key in ("k-3d", "k-batch", "k-new", "k-batch")])
    assert [(s.event_id, s.inserted) for s in stored[:1]] == [(three_days, False)]
    assert stored[1].inserted and (stored[3].event_id, stored[3].inserted) == (stored[1].event_id, False)
    assert (stored[2].event_id, stored[2].inserted) == (fresh.event_id, False)
    rows = db("SELECT idempotency_key, count(*) AS n FROM webhook_events WHERE agent_id = %s GROUP BY 1", (agent_id,))
    assert {r["idempotency_key"]: r["n"] for r in rows} == {"k-3d": 1, "k-9d": 2, "k-new": 1, "k-batch": 1}


def test_keep_data_drops_what_expired_and_keeps_what_is_pending_dead_or_recent(db, agent_id):
    s = settings()
    assert (s.retention_days, s.ledger_retention_days, s.run_retention_days) == (30, 400, 90)
    expired = _event_days_ago(db, agent_id, 40, "old-done")
    _event_days_ago(db, agent_id, 41, "old-received", state="received")
    _event_days_ago(db, agent_id, 42, "old-dead", state="dead")
    recent = _event_days_ago(db, agent_id, 20, "recent")
    # the ledger: a month 450 days back (expired) and one 300 days back (kept)
    ledger_ids = {}
    for days in (450, 300):
        start = partition_start(LEDGER, _today() - timedelta(days=days))
        with transaction() as conn:
            partitions.create(conn, LEDGER, partition_for(LEDGER, start))
        ledger_ids[days] = first_id(start) + 7
        db("INSERT INTO status_changes (id, entity_type, entity_id, to_status, source, outcome, at) "
           "VALUES (%s, 'media_buy', 'mb_ret', 'active', 'poll', 'applied', now() - make_interval(days => %s))",
           (ledger_ids[days], days))
    # run records: finished 100 days ago (deleted), finished 10 days ago and still running (kept)
    old_run, new_run, running = (db("INSERT INTO sync_runs (kind, target_id, source, state, finished_at) "
                                    "VALUES ('agent', %s, 'admin', %s, now() - make_interval(days => %s)) RETURNING id",
                                    (agent_id, state, days))[0]["id"]
                                 for state, days in (("done", 100), ("failed", 10), ("running", 100)))
    # a partition ahead gone missing (beat down) is made again
    ahead = partition_for(INBOX, _today() + timedelta(days=s.partitions_ahead_days))
    db(f'DROP TABLE IF EXISTS "{ahead.name}"')

    report = keep(s)

    day = _today()
    assert ahead.name in report.created
    assert partition_for(INBOX, day - timedelta(days=40)).name in report.dropped
    assert partition_for(INBOX, day - timedelta(days=20)).name not in report.dropped
    assert report.kept[partition_for(INBOX, day - timedelta(days=41)).name] == "holds received events"
    assert report.kept[partition_for(INBOX, day - timedelta(days=42)).name] == "holds dead events"
    assert db("SELECT id FROM webhook_events WHERE id = ANY(%s)", ([expired, recent],)) == [{"id": recent}]
    assert [r["id"] for r in db("SELECT id FROM status_changes WHERE id = ANY(%s)", (list(ledger_ids.values()),))] \
        == [ledger_ids[300]]
    assert {r["id"] for r in db("SELECT id FROM sync_runs WHERE id = ANY(%s)", ([old_run, new_run, running],))} \
        == {new_run, running}
    assert report.deleted_sync_runs >= 1

    # the events that held their partitions are still there, and once dealt with, the partition goes
    db("UPDATE webhook_events SET state = 'processed' WHERE agent_id = %s AND idempotency_key = 'old-received'",
       (agent_id,))
    again = keep(s)
    assert partition_for(INBOX, day - timedelta(days=41)).name in again.dropped
    assert partition_for(INBOX, day - timedelta(days=42)).name in again.kept
    assert not again.created


def test_beat_s_task_runs_the_job_on_the_worker(stack, db):
    """The keep-data task as beat sends it, on the ingest queue, carried out by the real worker."""
    ahead = partition_for(INBOX, _today() + timedelta(days=settings().partitions_ahead_days))
    db(f'DROP TABLE IF EXISTS "{ahead.name}"')
    db("DELETE FROM periodic_jobs WHERE name = %s", (KEEP_DATA,))  # this period's turn not yet taken
    publisher.send_task(KEEP_DATA)  # routed by queue/names.py ROUTES, as beat's is
    deadline = time.monotonic() + 30
    while not db("SELECT 1 FROM pg_class WHERE relname = %s", (ahead.name,)):
        assert time.monotonic() < deadline, "the worker did not create the partition ahead"
        time.sleep(0.2)


def test_metrics_say_how_many_days_the_partitions_cover(stack):
    scrape = requests.get(f"{stack['base_url']}/metrics", headers=BEARER, timeout=10)
    assert scrape.status_code == 200, scrape.text
    found = {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in scrape.text.splitlines()
             if line.startswith("mediabuy_partition_days_ahead{")}
    ahead = settings().partitions_ahead_days
    assert ahead <= found["webhook_events"] <= ahead + 1
    assert found["status_changes"] > ahead


def test_ops_shows_each_table_and_partition_size(stack):
    page = requests.get(f"{stack['base_url']}/ops/storage", headers=BEARER, timeout=10)
    assert page.status_code == 200, page.text
    today = _today()
    assert f'id="{partition_for(INBOX, today).name}"' in page.text
    assert f'id="{partition_for(LEDGER, partition_start(LEDGER, today)).name}"' in page.text
    assert 'id="campaigns"' in page.text and "partitioned" in page.text
    assert requests.get(f"{stack['base_url']}/ops/storage", timeout=10, allow_redirects=False).status_code != 200
