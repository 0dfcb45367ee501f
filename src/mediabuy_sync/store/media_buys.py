"""store: media buys and their packages — the status path's reads and writes, and what the buyer's
actions and the agents' answers change on them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from .db import queries

Q = queries("media_buys")


# --- the status path (services/status_path.py) ------------------------------------------------------


def lock_for_report(conn: psycopg.Connection, agent_id: str, adcp_media_buy_id: str | None,
                    operation_id: str | None, task_id: str | None) -> dict | None:
    """The buy a report is about, among this agent's buys only, locked until the transaction ends."""
    return conn.execute(Q["lock_buy_for_report"], {
        "agent_id": agent_id, "adcp_media_buy_id": adcp_media_buy_id, "operation_id": operation_id,
        "task_id": task_id}).fetchone()


def lock_for_batch(conn: psycopg.Connection, named: list[tuple[str, str]]) -> None:
    """Lock the buys a batch's reports name, as (agent id, the agent's media buy id), in our id order."""
    conn.execute(Q["lock_buys_for_batch"], {"agent_ids": [a for a, _ in named],
                                            "adcp_media_buy_ids": [b for _, b in named]}).fetchall()


def set_status(conn: psycopg.Connection, buy_id: str, from_status: str, to_status: str, adcp_status: str | None,
               as_of: datetime, adcp_media_buy_id: str | None, message: str | None = None) -> psycopg.Cursor:
    """The guarded status change. Returns the cursor unread: in a pipeline the caller reads it last,
    so the writes before it travel together (one row: applied; none: the guard caught a race).
    `message`: the seller's words with the report (kept as the buy's seller_message)."""
    return conn.execute(Q["set_status"], {"id": buy_id, "from_status": from_status, "to_status": to_status,
                                          "adcp_status": adcp_status, "as_of": as_of,
                                          "adcp_media_buy_id": adcp_media_buy_id, "message": message})


def heard_by_webhook(conn: psycopg.Connection, buy_id: str, poll_in: float | None, reason: str | None,
                     adcp_media_buy_id: str | None) -> None:
    """A webhook about the buy: its next poll in `poll_in` seconds (None: no more polling)."""
    conn.execute(Q["heard_by_webhook"], {"id": buy_id, "delay": poll_in, "reason": reason,
                                         "adcp_media_buy_id": adcp_media_buy_id})


def request_reconcile(conn: psycopg.Connection, buy_id: str, poll_in: float, reason: str) -> None:
    conn.execute(Q["request_reconcile"], {"id": buy_id, "delay": poll_in, "reason": reason})


def record_change(conn: psycopg.Connection, buy_id: str, from_status: str, to_status: str, adcp_status: str | None,
                  source: str, event_id: int | None, outcome: str, as_of: datetime,
                  message: str | None = None) -> None:
    """A row of the status ledger, with the seller's message when the report carried one."""
    conn.execute(Q["record_change"], {"id": buy_id, "from_status": from_status, "to_status": to_status,
                                      "adcp_status": adcp_status, "source": source, "event_id": event_id,
                                      "outcome": outcome, "as_of": as_of, "message": message})


def bump_campaigns(conn: psycopg.Connection, campaign_ids: list[str]) -> None:
    """These campaigns' buys changed: their rollups are owed (campaigns.status_version)."""
    conn.execute(Q["bump_campaigns"], {"campaign_ids": campaign_ids})


# --- the buyer's actions and the agents' answers ---------------------------------------------------------


def for_calls(conn: psycopg.Connection, buy_id: str) -> dict | None:
    """{id, campaign_id, status, adcp_media_buy_id}, locked: what the caller decides holds until it commits."""
    return conn.execute(Q["buy_for_calls"], {"id": buy_id}).fetchone()


def packages_of_buy(conn: psycopg.Connection, buy_id: str) -> list[dict]:
    """The buy's packages in the order its create_media_buy listed them."""
    return conn.execute(Q["packages_of_buy"], {"id": buy_id}).fetchall()


def record_submission(conn: psycopg.Connection, buy_id: str, task_id: str | None, adcp_media_buy_id: str | None,
                      poll_in: float | None) -> None:
    conn.execute(Q["record_submission"], {"id": buy_id, "task_id": task_id, "adcp_media_buy_id": adcp_media_buy_id,
                                          "poll_in": poll_in})


def set_last_error(conn: psycopg.Connection, buy_id: str, error: dict | None) -> None:
    conn.execute(Q["set_last_error"], {"id": buy_id, "error": Jsonb(error) if error is not None else None})


def forget_adcp_ids(conn: psycopg.Connection, buy_ids: list[str]) -> None:
    """A re-execute submits FAILED buys anew: the failed attempt's task and buy ids are not theirs."""
    conn.execute(Q["forget_adcp_ids"], {"ids": buy_ids})


def learn_package_ids(conn: psycopg.Connection, buy_id: str, mapping: dict[str, str]) -> None:
    """{our package id: the agent's}."""
    if mapping:
        ids = sorted(mapping)
        conn.execute(Q["learn_package_ids"], {"media_buy_id": buy_id, "ids": ids, "adcp_ids": [mapping[i] for i in ids]})


def set_package_statuses(conn: psycopg.Connection, buy_id: str, statuses: dict[str, str]) -> None:
    """{our package id: active | paused | canceled}; a canceled package stays canceled."""
    if statuses:
        ids = sorted(statuses)
        conn.execute(Q["set_package_statuses"], {"media_buy_id": buy_id, "ids": ids,
                                                 "statuses": [statuses[i] for i in ids]})


def update_package(conn: psycopg.Connection, package_id: str, budget: Decimal | None = None,
                   pacing: str | None = None, bid_price: Decimal | None = None) -> None:
    """The fields given; None keeps the stored value."""
    conn.execute(Q["update_package"], {"id": package_id, "budget": budget, "pacing": pacing, "bid_price": bid_price})


def set_overrides(conn: psycopg.Connection, buy_id: str, *, creative_ids: list[str] | None = None,
                  set_creative_ids: bool = False, goals: list[dict] | None = None) -> None:
    """The buy's own creative_ids (when set_creative_ids; None: auto-sync again) and goals (when given)."""
    conn.execute(Q["set_buy_overrides"], {
        "id": buy_id, "set_creative_ids": set_creative_ids, "creative_ids": creative_ids,
        "set_goals": goals is not None, "optimization_goals": Jsonb(goals) if goals is not None else None})
