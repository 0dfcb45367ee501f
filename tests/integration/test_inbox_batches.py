"""store/inbox.store_events against the run's PostgreSQL: one statement for a batch of webhooks, with
the answers store_event gives one at a time (new, duplicate, repeated within the batch), and one bad
event failing only itself."""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor

import psycopg

from mediabuy_sync.store import inbox
from mediabuy_sync.store.db import autocommit
from support.webhooks import task_payload


def event(agent_id: str, key: str, body: str = '{"n": 1}') -> inbox.Event:
    return (agent_id, key, "media_buy_delivery", body, "req_" + key)


def test_a_batch_stores_the_new_ones_and_answers_each_as_store_event_would(make_agent, db):
    agent = make_agent().agent_id
    k = secrets.token_hex(4)
    with autocommit() as conn:
        earlier = inbox.store_event(conn, *event(agent, k + "-old", '{"old": true}'))
        results = inbox.store_events(conn, [
            event(agent, k + "-a"),
            event(agent, k + "-old", '{"old": "changed"}'),  # in the inbox already, another body
            event(agent, k + "-b", '{"first": 1}'),
            event(agent, k + "-b", '{"first": 2}'),  # repeated within the batch
        ])
    new_a, old, new_b, repeat_b = results
    assert new_a.inserted and new_b.inserted
    assert (old.event_id, old.inserted, old.raw_body) == (earlier.event_id, False, '{"old": true}')
    assert (repeat_b.event_id, repeat_b.inserted, repeat_b.raw_body) == (new_b.event_id, False, '{"first": 1}')
    rows = db("SELECT id, idempotency_key, raw_body, request_id FROM webhook_events WHERE agent_id = %s ORDER BY id",
              (agent,))
    assert [(r["id"], r["idempotency_key"], r["raw_body"], r["request_id"]) for r in rows] == [
        (earlier.event_id, k + "-old", '{"old": true}', "req_" + k + "-old"),
        (new_a.event_id, k + "-a", '{"n": 1}', "req_" + k + "-a"),
        (new_b.event_id, k + "-b", '{"first": 1}', "req_" + k + "-b"),
    ]


def test_an_event_the_database_refuses_fails_alone_and_the_rest_are_stored(make_agent, db):
    agent = make_agent().agent_id
    k = secrets.token_hex(4)
    with autocommit() as conn:
        results = inbox.store_events(conn, [
            event(agent, k + "-1"),
            event("agent_never_registered", k + "-2"),  # the foreign key refuses it
            event(agent, k + "-3"),
        ])
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert isinstance(results[1], psycopg.errors.ForeignKeyViolation)
    assert results[0].inserted and results[2].inserted
    keys = [r["idempotency_key"] for r in db(
        "SELECT idempotency_key FROM webhook_events WHERE idempotency_key LIKE %s ORDER BY id", (k + "%",))]
    assert keys == [k + "-1", k + "-3"]


def test_webhooks_sent_at_once_are_each_answered_for_their_own_event(make_agent, db):
    """Through gunicorn: 16 at a time share commits; every answer is about its own event."""
    agent = make_agent()
    payloads = [task_payload(None, key=f"evt_{secrets.token_hex(6)}") for _ in range(40)]
    repeats = payloads[:10]  # sent again, identical: a duplicate each
    conflicts = [{**p, "task_id": "task_other"} for p in payloads[10:15]]  # same key, another payload
    sent = payloads + repeats + conflicts
    with ThreadPoolExecutor(16) as pool:
        # the repeats after the first round, so that which of two bodies came first is known
        answers = list(pool.map(agent.post, payloads)) + list(pool.map(agent.post, repeats + conflicts))

    by_key: dict[str, list] = {}
    for payload, answer in zip(sent, answers):
        by_key.setdefault(payload["idempotency_key"], []).append(answer)
    rows = {r["idempotency_key"]: r for r in db(
        "SELECT id, idempotency_key, raw_body FROM webhook_events WHERE agent_id = %s", (agent.agent_id,))}
    assert set(rows) == set(by_key)  # every key stored once, nothing else
    for key, key_answers in by_key.items():
        expected = [202, 200] if key in {p["idempotency_key"] for p in repeats} else \
            [202, 409] if key in {p["idempotency_key"] for p in conflicts} else [202]
        assert [a.status_code for a in key_answers] == expected, key
        ids = {a.json()["data"]["event_id"] if a.status_code != 409 else a.json()["error"]["details"]["event_id"]
               for a in key_answers}
        assert ids == {rows[key]["id"]}, key
    stored = {key: json.loads(row["raw_body"]) for key, row in rows.items()}
    assert stored == {p["idempotency_key"]: p for p in payloads}  # the first payload of each key, not a conflict's
