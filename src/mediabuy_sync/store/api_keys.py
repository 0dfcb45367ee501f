"""store: buyer API keys — random 256-bit secrets, stored as their SHA-256 (a slow hash adds nothing here)."""

from __future__ import annotations

import hashlib
import secrets

import psycopg

from .db import queries

Q = queries("api_keys")
PREFIX = "mbsk_"


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def create_key(conn: psycopg.Connection, advertiser_id: str, name: str = "") -> tuple[str, str]:
    """A new key for one advertiser; returns (key id, the key). The key itself is not stored."""
    key_id = f"key_{secrets.token_hex(6)}"
    key = PREFIX + secrets.token_urlsafe(32)
    conn.execute(Q["insert_key"], {"id": key_id, "advertiser_id": advertiser_id, "key_hash": _hash(key), "name": name})
    return key_id, key


def advertiser_for(conn: psycopg.Connection, key: str) -> str | None:
    row = conn.execute(Q["advertiser_for_key"], {"key_hash": _hash(key)}).fetchone()
    return row["advertiser_id"] if row else None


def revoke_key(conn: psycopg.Connection, key_id: str) -> bool:
    """Revoke a key by its id, at once (every request reads the key afresh); False if unknown or revoked."""
    return conn.execute(Q["revoke_key"], {"id": key_id}).fetchone() is not None


def list_keys(conn: psycopg.Connection, advertiser_id: str | None = None, include_revoked: bool = True,
              limit: int = 1000) -> list[dict]:
    """The keys as an operator sees them (id, name, advertiser, created, revoked): never the key or its hash."""
    return conn.execute(Q["list_keys"], {"advertiser_id": advertiser_id, "include_revoked": include_revoked,
                                         "limit": limit}).fetchall()
