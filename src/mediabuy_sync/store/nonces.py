"""store: RFC 9421 nonces — each accepted once per agent, across every web process."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from .db import queries

Q = queries("nonces")


def claim(conn: psycopg.Connection, agent_id: str, nonce: str, expires_at: float, key_id: str | None = None) -> bool:
    """Record the nonce in the caller's transaction; False if the agent already used it (a replay)."""
    params = {"agent_id": agent_id, "nonce": nonce, "expires_at": datetime.fromtimestamp(expires_at, timezone.utc),
              "key_id": key_id}
    return conn.execute(Q["claim"], params).fetchone() is not None


def purge_expired(conn: psycopg.Connection) -> int:
    return conn.execute(Q["purge_expired"]).rowcount


def key_at_cap(conn: psycopg.Connection, agent_id: str, key_id: str, cap: int) -> bool:
    """Whether the key already has `cap` live nonces (the per-key replay-cache cap)."""
    return conn.execute(Q["key_at_cap"], {"agent_id": agent_id, "key_id": key_id, "cap": cap}).fetchone()["full"]
