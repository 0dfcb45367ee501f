"""store: fallback polling — which buys are due, each agent's health, and when each buy is polled next."""

from __future__ import annotations

from datetime import datetime

import psycopg

from .db import queries

Q = queries("polling")


def claim_due(conn: psycopg.Connection, polled: list[str], per_agent: int, lease: float,
              in_flight: list[str]) -> list[dict]:
    """The due buys ({id, sales_agent_id}) of agents neither backing off nor `in_flight`, at most
    `per_agent` of each, leased `lease` seconds forward so the next sweep leaves them alone."""
    return conn.execute(Q["claim_due_buys"], {"polled": polled, "per_agent": per_agent, "lease": lease,
                                              "in_flight": in_flight}).fetchall()


def buys_to_poll(conn: psycopg.Connection, agent_id: str, buy_ids: list[str]) -> list[dict]:
    """Those of the buys the agent holds (it named them), in id order (every path's lock order)."""
    return conn.execute(Q["buys_to_poll"], {"buy_ids": buy_ids, "agent_id": agent_id}).fetchall()


def poll_succeeded(conn: psycopg.Connection, agent_id: str) -> None:
    conn.execute(Q["poll_succeeded"], {"agent_id": agent_id})


def poll_failures(conn: psycopg.Connection, agent_id: str) -> int:
    """The agent's failed polls in a row."""
    return conn.execute(Q["poll_failures"], {"agent_id": agent_id}).fetchone()["poll_failures"]


def poll_failed(conn: psycopg.Connection, agent_id: str, error: str, backoff: float) -> datetime:
    """Count the failure and back the agent off `backoff` seconds; returns when its backoff ends."""
    row = conn.execute(Q["poll_failed"], {"agent_id": agent_id, "error": error, "backoff": backoff}).fetchone()
    return row["poll_backoff_until"]


def schedule(conn: psycopg.Connection, buy_ids: list[str], delays: list[float | None]) -> None:
    """Each buy's next poll, that many seconds from now (None: no more polling)."""
    conn.execute(Q["schedule_polls"], {"buy_ids": buy_ids, "delays": delays})


def reconcile_agent(conn: psycopg.Connection, agent_id: str, polled: list[str], delay: float, reason: str) -> None:
    """Poll the agent's unsettled buys within `delay` seconds (never later than planned)."""
    conn.execute(Q["reconcile_agent"], {"agent_id": agent_id, "polled": polled, "delay": delay, "reason": reason})


def claim_quiet_delivery(conn: psycopg.Connection, buy_ids: list[str], live: list[str], quiet: float) -> list[dict]:
    """Of these buys, the live ones whose delivery went quiet for `quiet` seconds and was not read for as
    long: {id, adcp_media_buy_id}, claimed (read time set now) so the next poll leaves them alone."""
    return conn.execute(Q["quiet_delivery"], {"buy_ids": buy_ids, "live": live, "quiet": quiet}).fetchall()


def defer(conn: psycopg.Connection, buy_ids: list[str], until: datetime) -> None:
    conn.execute(Q["defer_polls"], {"buy_ids": buy_ids, "until": until})


def defer_to_backoff(conn: psycopg.Connection, agent_id: str, buy_ids: list[str]) -> None:
    """Buys left unpolled because their agent just failed: they wait for its backoff like the rest."""
    conn.execute(Q["defer_polls_to_backoff"], {"agent_id": agent_id, "buy_ids": buy_ids})


def buys_of_campaign(conn: psycopg.Connection, campaign_id: str) -> list[dict]:
    """Every buy of the campaign: {id, sales_agent_id, adcp_media_buy_id, status, adcp_status}."""
    return conn.execute(Q["buys_of_campaign"], {"campaign_id": campaign_id}).fetchall()
