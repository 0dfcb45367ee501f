"""store: re-sync runs and live status queries — created by the API, admin or CLI, carried out by a worker."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from ..domain.statuses import POLLED
from .db import queries, transaction

Q = queries("sync_runs")


def targets(conn, kind: str, target_id: str) -> dict[str, list[str]]:
    """The polled buys a run covers, per agent: {agent id: [buy id, …]}."""
    polled = sorted(POLLED)
    if kind == "agent":
        rows = conn.execute(Q["buys_of_agent_polled"], {"agent_id": target_id, "polled": polled}).fetchall()
        return {target_id: [r["id"] for r in rows]} if rows else {}
    if kind in ("campaign", "status_query"):
        rows = conn.execute(Q["buys_of_campaign_polled"], {"campaign_id": target_id, "polled": polled}).fetchall()
    else:
        rows = conn.execute(Q["buy_polled"], {"id": target_id}).fetchall()
    by_agent: dict[str, list[str]] = {}
    for row in rows:
        by_agent.setdefault(row["sales_agent_id"], []).append(row["id"])
    return by_agent


def create(kind: str, target_id: str, source: str) -> int:
    with transaction() as conn:
        total = sum(len(ids) for ids in targets(conn, kind, target_id).values())
        return conn.execute(
            Q["create_run"], {"kind": kind, "target_id": target_id, "source": source, "total": total}
        ).fetchone()["id"]


def get(run_id: int) -> dict | None:
    with transaction() as conn:
        return conn.execute(Q["get_run"], {"run_id": run_id}).fetchone()


def progress(run_id: int, done: int) -> None:
    with transaction() as conn:
        conn.execute(Q["run_progress"], {"run_id": run_id, "done": done})


def finish(run_id: int, state: str, result: dict) -> None:
    with transaction() as conn:
        conn.execute(Q["finish_run"], {"run_id": run_id, "state": state, "result": Jsonb(result)})


def delete_finished(conn, days: int, limit: int) -> int:
    """Delete up to `limit` runs finished more than `days` days ago; how many were."""
    return len(conn.execute(Q["delete_finished"], {"days": days, "limit": limit}).fetchall())
