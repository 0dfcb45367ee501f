"""store: cascades — a buyer action carried to each media buy it concerns, one item per buy.

An item holds the exact request its agent gets (the idempotency_key derived from the cascade and the
buy, so a retry is deduplicated by the agent), its attempts, the answer or the error, and a few log
lines. Items are done or failed at most once (guarded updates): running an agent's job twice is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from ..domain.cascades import CASCADE_KINDS, ItemState, idempotency_key
from .db import queries, transaction
from .secretbox import open_sealed

Q = queries("cascades")


@dataclass(frozen=True)
class NewItem:
    media_buy_id: str
    sales_agent_id: str
    previous_status: str
    request: dict  # without idempotency_key: create() derives it


def create(conn: psycopg.Connection, campaign_id: str, kind: str, items: list[NewItem],
           request: dict | None = None) -> int:
    """A running cascade with its items, in the caller's transaction; one without items is done at
    once. Returns its id."""
    assert kind in CASCADE_KINDS, kind
    cascade_id = conn.execute(Q["insert_cascade"], {"campaign_id": campaign_id, "kind": kind,
                                                    "request": Jsonb(request) if request is not None else None}
                              ).fetchone()["id"]
    with conn.cursor() as cur:
        cur.executemany(Q["insert_item"], [
            {"cascade_id": cascade_id, "media_buy_id": item.media_buy_id, "sales_agent_id": item.sales_agent_id,
             "previous_status": item.previous_status,
             "request": Jsonb({**item.request, "idempotency_key": idempotency_key(cascade_id, item.media_buy_id)})}
            for item in items
        ])
    if not items:
        conn.execute(Q["finish_if_complete"], {"cascade_id": cascade_id})
    return cascade_id


def buys_being_submitted(conn: psycopg.Connection, campaign_id: str) -> set[str]:
    return {row["media_buy_id"] for row in conn.execute(Q["buys_being_submitted"], {"campaign_id": campaign_id})}


def agents_pending(conn: psycopg.Connection, cascade_id: int) -> list[str]:
    return [row["sales_agent_id"] for row in conn.execute(Q["agents_pending"], {"cascade_id": cascade_id})]


def get(cascade_id: int) -> dict | None:
    """The cascade and its items (each with its buy's current status), read in one transaction."""
    with transaction() as conn:
        cascade = conn.execute(Q["get_cascade"], {"cascade_id": cascade_id}).fetchone()
        if cascade is None:
            return None
        items = conn.execute(Q["items_of_cascade"], {"cascade_id": cascade_id}).fetchall()
    return {**cascade, "items": items}


def summary(cascade: dict) -> dict:
    """Counts of a cascade read with get()."""
    states = [item["state"] for item in cascade["items"]]
    return {"id": cascade["id"], "kind": cascade["kind"], "state": cascade["state"], "total": len(states),
            "succeeded": states.count(ItemState.DONE),
            "failed": states.count(ItemState.FAILED) + states.count(ItemState.UNCONFIRMED),
            "pending": states.count(ItemState.PENDING),
            "created_at": cascade["created_at"], "finished_at": cascade["finished_at"]}


def recent(conn: psycopg.Connection, campaign_id: str, limit: int = 5) -> list[dict]:
    """The campaign's latest cascades, newest first: kind, state, item counts, when."""
    return conn.execute(Q["recent_for_campaign"], {"campaign_id": campaign_id, "limit": limit}).fetchall()


# --- the worker's side -----------------------------------------------------------------------------


def pending_items(conn: psycopg.Connection, cascade_id: int, agent_id: str) -> list[dict]:
    return conn.execute(Q["pending_items_of_agent"], {"cascade_id": cascade_id, "agent_id": agent_id}).fetchall()


def count_attempt(conn: psycopg.Connection, cascade_id: int, media_buy_id: str) -> int | None:
    """The attempt's number, or None when the item is no longer pending (another job finished it)."""
    row = conn.execute(Q["count_attempt"], {"cascade_id": cascade_id, "media_buy_id": media_buy_id}).fetchone()
    return row["attempts"] if row else None


def store_request(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, request: dict) -> None:
    conn.execute(Q["store_request"], {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "request": Jsonb(request)})


def append_log(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, lines: list[str]) -> None:
    conn.execute(Q["append_log"], {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "lines": Jsonb(lines)})


def record_error(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, error: dict) -> None:
    conn.execute(Q["record_error"], {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "error": Jsonb(error)})


def item_done(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, response: dict) -> bool:
    """Mark the item done; False when it was not pending any more (nothing to apply then)."""
    params = {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "response": Jsonb(response)}
    return conn.execute(Q["item_done"], params).fetchone() is not None


def item_answered(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, response: dict):
    """The seller accepted the request (its answer kept); the item waits for a read to confirm it.
    Returns when it was answered, or None when it was not pending (or answered) any more."""
    params = {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "response": Jsonb(response)}
    row = conn.execute(Q["item_answered"], params).fetchone()
    return row["answered_at"] if row else None


def item_confirmed(conn: psycopg.Connection, cascade_id: int, media_buy_id: str) -> bool:
    params = {"cascade_id": cascade_id, "media_buy_id": media_buy_id}
    return conn.execute(Q["item_confirmed"], params).fetchone() is not None


def deletes_buy(conn: psycopg.Connection, cascade_id: int, media_buy_id: str) -> bool:
    """Whether the cascade carries the buyer's delete of this buy (sent as a cancel, archived after)."""
    params = {"cascade_id": cascade_id, "media_buy_id": media_buy_id}
    return conn.execute(Q["deletes_buy"], params).fetchone()["deletes"]


def item_unconfirmed(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, error: dict) -> bool:
    params = {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "error": Jsonb(error)}
    return conn.execute(Q["item_unconfirmed"], params).fetchone() is not None


def item_failed(conn: psycopg.Connection, cascade_id: int, media_buy_id: str, error: dict) -> bool:
    params = {"cascade_id": cascade_id, "media_buy_id": media_buy_id, "error": Jsonb(error)}
    return conn.execute(Q["item_failed"], params).fetchone() is not None


def finish_if_complete(conn: psycopg.Connection, cascade_id: int) -> str | None:
    """The cascade's final state when this call finished it; None while items are pending."""
    row = conn.execute(Q["finish_if_complete"], {"cascade_id": cascade_id}).fetchone()
    return row["state"] if row else None


def claim_stale_jobs(conn: psycopg.Connection, stale_after: float) -> list[tuple[int, str]]:
    """(cascade id, agent id) of the agent jobs that went missing; claimed, so a second sweep skips them."""
    rows = conn.execute(Q["stale_agent_jobs"], {"stale_after": stale_after}).fetchall()
    for row in rows:
        conn.execute(Q["touch_agent_items"], {"cascade_id": row["cascade_id"], "agent_id": row["sales_agent_id"]})
    return [(row["cascade_id"], row["sales_agent_id"]) for row in rows]


def credential_secret(conn: psycopg.Connection, credential_id: int) -> str | None:
    row = conn.execute(Q["credential_secret"], {"credential_id": credential_id}).fetchone()
    return open_sealed(row["secret_sealed"]) if row else None


def newest_secret(conn: psycopg.Connection, agent_id: str, kind: str) -> dict | None:
    """{id, secret} of the agent's newest active credential of this kind (opened: it is sent to the agent)."""
    row = conn.execute(Q["newest_secret"], {"agent_id": agent_id, "kind": kind}).fetchone()
    return {"id": row["id"], "secret": open_sealed(row["secret_sealed"])} if row else None


def delete_finished(conn: psycopg.Connection, days: int, limit: int) -> int:
    """Delete up to `limit` cascades (with their items) finished more than `days` days ago; how many were."""
    return len(conn.execute(Q["delete_finished"], {"days": days, "limit": limit}).fetchall())
