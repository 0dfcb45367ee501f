"""store: the webhook inbox — what agents sent us, committed before they hear 2xx."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import psycopg

from ..config import settings
from ..domain.retention import first_id
from .db import queries

Q = queries("inbox")


@dataclass(frozen=True)
class Stored:
    event_id: int
    inserted: bool  # False: the (agent, idempotency_key) was already in the inbox
    raw_body: str


def store_event(conn: psycopg.Connection, agent_id: str, idempotency_key: str, task_type: str, raw_body: str,
                request_id: str | None = None) -> Stored:
    params = {"agent_id": agent_id, "idempotency_key": idempotency_key, "task_type": task_type, "raw_body": raw_body,
              "request_id": request_id, "dedup_days": settings().dedup_days}
    query = _insert_event(*_window(params["dedup_days"]))
    row = conn.execute(query, params).fetchone()
    if row is None:
        # The conflicting row was committed while our statement ran: it is visible now.
        row = conn.execute(query, params).fetchone()
    return Stored(row["id"], row["inserted"], row["raw_body"])


# (agent_id, idempotency_key, task_type, raw_body, request_id): store_event's arguments
Event = tuple[str, str, str, str, "str | None"]


def store_events(conn: psycopg.Connection, events: list[Event]) -> list[Stored | Exception]:
    """store_event for several events at once, on an autocommit connection: one statement commits
    all that are new, in one round trip. Those not inserted (duplicates) are looked up one by one. If
    the statement fails, each event is stored on its own, so that one bad event fails only itself:
    its place in the answer holds the error (a lost connection fails them all, as it would have)."""
    if len(events) == 1:  # the single-row statement: prepared already
        return [_store_alone(conn, events[0])]
    try:
        params = [*(value for event in events for value in event), settings().dedup_days]
        rows = conn.execute(_insert_events(len(events), *_window(settings().dedup_days)), params).fetchall()
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        return [_store_alone(conn, event) for event in events]
    inserted = {row["position"]: row["id"] for row in rows}
    return [Stored(inserted[position], True, event[3]) if position in inserted else _store_alone(conn, event)
            for position, event in enumerate(events, 1)]


def _window(dedup_days: int) -> tuple[int, int]:
    """Literal id bounds around the dedup window and today (inbox.sql, insert_event): a day wider each
    way than the database's own, so that a clock of ours a little off never narrows it."""
    today = datetime.now(timezone.utc).date()
    return first_id(today - timedelta(days=dedup_days + 1)), first_id(today + timedelta(days=2))


def _with_window(query: str, window_first: int, window_end: int) -> str:
    return query.replace("{window_first}", str(window_first)).replace("{window_end}", str(window_end))


@lru_cache(maxsize=8)
def _insert_event(window_first: int, window_end: int) -> str:
    """insert_event with the day's literal bounds: one statement text a day, prepared by psycopg."""
    return _with_window(Q["insert_event"], window_first, window_end)


@lru_cache(maxsize=256)
def _insert_events(n: int, window_first: int, window_end: int) -> str:
    """insert_events for n events: one statement text per batch size (and day), so psycopg prepares each."""
    rows = ", ".join(f"(%s, %s, %s, %s, %s, {i})" for i in range(1, n + 1))
    return _with_window(Q["insert_events"], window_first, window_end).replace("{rows}", rows)


def _store_alone(conn: psycopg.Connection, event: Event) -> Stored | Exception:
    try:
        return store_event(conn, *event)
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        return exc


def claim_batch(conn: psycopg.Connection, limit: int) -> list[dict]:
    return conn.execute(Q["claim_batch"], {"limit": limit}).fetchall()


def lock_event(conn: psycopg.Connection, event_id: int) -> dict | None:
    return conn.execute(Q["lock_event"], {"event_id": event_id}).fetchone()


def mark_processed(conn: psycopg.Connection, event_id: int, outcome: str) -> None:
    conn.execute(Q["mark_processed"], {"event_id": event_id, "outcome": outcome})


def mark_unmatched(conn: psycopg.Connection, event_id: int, reason: str) -> None:
    conn.execute(Q["mark_unmatched"], {"event_id": event_id, "reason": reason[:2000]})


def list_unmatched(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """The newest events nothing matched: {id, agent_id, idempotency_key, task_type, received_at, reason}."""
    return conn.execute(Q["list_unmatched"], {"limit": limit}).fetchall()


def record_failure(conn: psycopg.Connection, event_id: int, error: str, max_attempts: int) -> dict | None:
    """Count a failed attempt; returns {attempts, state} (state 'dead' at the limit), None if not pending."""
    params = {"event_id": event_id, "error": error[:2000], "max_attempts": max_attempts}
    return conn.execute(Q["record_failure"], params).fetchone()


def oldest_waiting_age(conn: psycopg.Connection) -> float | None:
    row = conn.execute(Q["oldest_waiting_age"]).fetchone()
    return row["age"] if row else None


def claim_stale(conn: psycopg.Connection, stale_after: float, limit: int = 1000) -> list[int]:
    conn.execute(Q["no_jit"])  # for the rest of the caller's transaction (inbox.sql)
    rows = conn.execute(Q["claim_stale_received"], {"stale_after": stale_after, "limit": limit}).fetchall()
    return [row["id"] for row in rows]


def list_dead(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    return conn.execute(Q["list_dead"], {"limit": limit}).fetchall()


def replay_dead(conn: psycopg.Connection, event_ids: list[int]) -> list[int]:
    return [row["id"] for row in conn.execute(Q["replay_dead"], {"event_ids": event_ids}).fetchall()]
