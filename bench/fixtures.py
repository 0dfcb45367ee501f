"""Data for the benchmarks, made in bulk with SQL, and the webhooks that change it."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

from mediabuy_sync.adcp.signatures import hmac_headers
from mediabuy_sync.store import agents, campaigns
from mediabuy_sync.store.db import transaction

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_agents(count: int, endpoint: str = "http://127.0.0.1:9/mcp", prefix: str = "bagent",
                given: dict[str, str] | None = None) -> dict[str, str]:
    """`count` HMAC agents (or the `given` ones, with their secrets: the same agents in another
    database); returns {agent id: secret}."""
    out = {}
    with transaction() as conn:
        for agent_id, secret in (given or {f"{prefix}_{i}": secrets.token_hex(32) for i in range(count)}).items():
            agents.add_agent(conn, agent_id, agent_id, endpoint.format(agent=agent_id), "hmac-sha256")
            agents.add_secret(conn, agent_id, "hmac-sha256", secret)
            out[agent_id] = secret
    return out


def make_campaigns(n_campaigns: int, buys_per_campaign: int, agent_ids: list[str], status: str = "ACTIVE",
                   poll_due_in: float | None = None, first: int = 0) -> list[str]:
    """Campaigns of `buys_per_campaign` buys each, spread over the agents round robin, their rollups
    computed. Buy k of campaign c is `mb_<c>_<k>`, known to its agent as `sa_<c>_<k>`."""
    ids = [f"cmp_b{c}" for c in range(first, first + n_campaigns)]
    with transaction() as conn:
        conn.execute("""
            INSERT INTO campaigns (id, advertiser_id, name, status, status_version)
            SELECT 'cmp_b' || c, 'adv_bench', 'bench ' || c, 'ACTIVE', 1 FROM generate_series(%(first)s, %(first)s + %(n)s - 1) c""",
                     {"n": n_campaigns, "first": first})
        conn.execute("""
            INSERT INTO media_buys (id, campaign_id, sales_agent_id, adcp_media_buy_id, status, adcp_status,
                                    status_as_of, poll_due_at, poll_reason)
            SELECT 'mb_' || c || '_' || k, 'cmp_b' || c,
                   (%(agents)s::text[])[1 + (c * %(per)s + k) %% cardinality(%(agents)s::text[])],
                   'sa_' || c || '_' || k, %(status)s, lower(%(status)s), %(t0)s,
                   CASE WHEN %(poll)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(poll)s) END,
                   'bench'
            FROM generate_series(%(first)s, %(first)s + %(n)s - 1) c, generate_series(0, %(per)s - 1) k""",
                     {"n": n_campaigns, "first": first, "per": buys_per_campaign, "agents": agent_ids, "status": status,
                      "t0": T0, "poll": poll_due_in})
    with transaction() as conn:
        for campaign_id in ids:
            campaigns.recompute_rollup(conn, campaign_id)
    return ids


def buy_of(c: int, k: int) -> tuple[str, str]:
    """(our id, the agent's id) of buy k of campaign c."""
    return f"mb_{c}_{k}", f"sa_{c}_{k}"


def agent_of(c: int, k: int, per: int, agent_ids: list[str]) -> str:
    return agent_ids[(c * per + k) % len(agent_ids)]


def status_webhook(adcp_media_buy_id: str, media_buy_status: str, seconds: float) -> bytes:
    """An update_media_buy completion saying the buy is now `media_buy_status`, as of T0 + seconds."""
    payload = {
        "idempotency_key": "evt_" + secrets.token_hex(12),
        "operation_id": "op_" + secrets.token_hex(4),
        "task_id": "task_" + secrets.token_hex(4),
        "task_type": "update_media_buy",
        "status": "completed",
        "timestamp": (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "result": {"media_buy_id": adcp_media_buy_id, "media_buy_status": media_buy_status},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signed(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {"Content-Type": "application/json", **hmac_headers(secret, body, timestamp)}


def insert_events(rows: list[tuple[str, bytes]]) -> list[int]:
    """Put webhooks straight into the inbox, as the web would have committed them; returns their ids."""
    with transaction() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body) "
            "VALUES (%s, %s, 'update_media_buy', %s) RETURNING id",
            [(agent_id, json.loads(body)["idempotency_key"], body.decode()) for agent_id, body in rows],
            returning=True,
        )
        ids = []
        while True:
            ids.append(cur.fetchone()["id"])
            if not cur.nextset():
                break
    return ids


def request_drain() -> None:
    """Ask for an inbox drain as the web does after it commits a webhook (one queued at a time; a drain
    that claims a full batch queues the next)."""
    from mediabuy_sync.queue import coalesce
    from mediabuy_sync.worker.app import celery_app

    coalesce.request_drain(celery_app)


def enqueue_each(event_ids: list[int]) -> None:
    """One ingest task per event (the worker benchmark's baseline), pipelined from one connection."""
    from mediabuy_sync.queue.names import INGEST
    from mediabuy_sync.worker.app import celery_app

    with celery_app.producer_or_acquire() as producer:
        for event_id in event_ids:
            celery_app.send_task(INGEST, args=[event_id], producer=producer)
