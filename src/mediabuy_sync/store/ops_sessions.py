"""store: /ops sessions — opened by the login form, ended by logout or by an operator for all."""

from __future__ import annotations

import secrets

import psycopg

from .db import queries

Q = queries("ops_sessions")


def open_session(conn: psycopg.Connection, seconds: int) -> str:
    """A new session's id (random, 256 bits)."""
    session_id = secrets.token_urlsafe(32)
    conn.execute(Q["open_session"], {"id": session_id, "seconds": seconds})
    return session_id


def live(conn: psycopg.Connection, session_id: str) -> bool:
    return conn.execute(Q["session_live"], {"id": session_id}).fetchone() is not None


def end_session(conn: psycopg.Connection, session_id: str) -> None:
    conn.execute(Q["end_session"], {"id": session_id})


def end_all(conn: psycopg.Connection) -> int:
    """End every live session; how many."""
    return conn.execute(Q["end_all_sessions"]).rowcount
