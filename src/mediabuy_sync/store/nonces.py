"""store: RFC 9421 nonces — each accepted once per agent, across every web process."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from .db import queries

Q = queries("nonces")


def claim(conn: psycopg.Connection, agent_id: str, nonce: str, expires_at: float) -> bool:
    """Record the nonce in the caller's transaction; False if the agent already used it (a replay)."""
    params = {"agent_id": agent_id, "nonce": nonce, "expires_at": datetime.fromtimestamp(expires_at, timezone.utc)}
    return conn.execute(Q["claim"], params).fetchone() is not None


def purge_expired(conn: psycopg.Connection) -> int:
    return conn.execute(Q["purge_expired"]).rowcount
