"""store: the admin audit — one row per operator change, written in the change's own transaction."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from .db import queries

Q = queries("audit")


def insert(conn: psycopg.Connection, actor: str, action: str, target_type: str, target_id: str, change: dict) -> int:
    return conn.execute(Q["insert_entry"], {"actor": actor, "action": action, "target_type": target_type,
                                            "target_id": target_id, "change": Jsonb(change)}).fetchone()["id"]


def entries(conn: psycopg.Connection, *, limit: int, before_id: int | None = None, target_type: str | None = None,
            target_id: str | None = None, action: str | None = None, actor: str | None = None,
            since: datetime | None = None) -> list[dict]:
    """Newest first, older than `before_id` when given."""
    return conn.execute(Q["list_entries"], {"limit": limit, "before_id": before_id, "target_type": target_type,
                                            "target_id": target_id, "action": action, "actor": actor,
                                            "since": since}).fetchall()
