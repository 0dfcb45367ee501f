"""store: PostgreSQL notifications — what a process LISTENs to, on a connection of its own."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from psycopg import sql

# Migration 0020's trigger: the id of an agent whose row or credentials changed, at commit.
AGENT_CREDENTIALS = "mediabuy_agent_credentials"


def listen(database_url: str, channel: str, connect_timeout: float, idle_seconds: float) -> Iterator[str | None]:
    """The payloads sent on `channel`, from when this yields its first None (listening) on; None again
    every `idle_seconds` without one. Raises psycopg.Error when the connection fails: the caller
    reconnects and treats everything it keeps as stale (what was sent meanwhile is lost)."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=max(1, round(connect_timeout))) as conn:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        yield None
        while True:
            got = False
            for notify in conn.notifies(timeout=idle_seconds):
                got = True
                yield notify.payload
            if not got:
                yield None
