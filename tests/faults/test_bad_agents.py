"""Scenario 7: agents that hang, answer 5xx or answer garbage. Polling backs off per agent, a hanging
agent holds one worker slot at most (one poll in flight per agent), and the webhooks of healthy
agents keep flowing meanwhile: a 1,000-event stream is processed in full while the bad agents fail."""

from __future__ import annotations

import secrets
import time

from mediabuy_sync.domain.statuses import Status
from mediabuy_sync.store import agents
from mediabuy_sync.store.campaigns import NewBuy, create_campaign
from mediabuy_sync.store.db import transaction
from support.bad_agent import BadAgent
from support.stack import wait_until
from support.stream import CAMPAIGNS, build_stream, check_ledger, query, report, send, wait_settled


def _register(endpoint: str, buys: int) -> str:
    """An agent at `endpoint` with `buys` live buys, all due a poll now."""
    agent_id = "agent_bad_" + secrets.token_hex(4)
    with transaction() as conn:
        agents.add_agent(conn, agent_id, agent_id, endpoint, "bearer")
        agents.add_secret(conn, agent_id, "bearer", secrets.token_urlsafe(16))
        create_campaign(conn, "adv_faults", "bad agent", [NewBuy(agent_id, f"sa_{i}", status=Status.ACTIVE)
                                                           for i in range(buys)], status="ACTIVE")
        conn.execute("UPDATE media_buys SET poll_due_at = now() WHERE sales_agent_id = %s", (agent_id,))
    return agent_id


def test_bad_agents_back_off_hold_one_slot_at_most_and_ingest_keeps_flowing(stack):
    bad = {mode: BadAgent(mode) for mode in ("hang", "5xx", "garbage")}
    try:
        started = time.monotonic()
        # 300 buys: three pages, two a sweep (MEDIABUY_POLL_PAGES_PER_AGENT), which one task per page
        # would have polled at once, holding both slots of the worker
        ids = {mode: _register(agent.url, 300 if mode == "hang" else 150) for mode, agent in bad.items()}
        wait_until(lambda: bad["hang"].open >= 1, 60, 0.1, "a poll of the hanging agent in flight")

        stream = build_stream(stack["base_url"], seed=30, campaigns=CAMPAIGNS)
        answers = send(stream.events, order="shuffled", seed=4)
        waited = wait_settled(stream, answers, timeout=120)
        figures = check_ledger(stream, answers)

        def bad_rows() -> dict:
            return {r["id"]: r for r in query(
                "SELECT id, poll_failures, poll_backoff_until, last_poll_error FROM sales_agents WHERE id = ANY(%s)",
                (list(ids.values()),))}

        # the stream may be done before the hanging agent's call times out (MEDIABUY_AGENT_CALL_TIMEOUT_SECONDS)
        def all_failed() -> dict | None:
            rows = bad_rows()
            return rows if all(row["poll_failures"] >= 1 for row in rows.values()) else None

        rows = wait_until(all_failed, 60, 0.2, "every bad agent's poll failed")
        elapsed = time.monotonic() - started
        figures.update(settled_after_last_answer_s=round(waited, 1), seconds=round(elapsed, 1),
                       bad_agents={m: {"connections": a.connections, "max_open": a.max_open,
                                       "poll_failures": rows[ids[m]]["poll_failures"]} for m, a in bad.items()})
        report("bad agents", figures)

        assert figures["accepted"] == len(stream.events)
        assert bad["hang"].max_open == 1, "more than one poll of the hanging agent at once"
        for mode, agent in bad.items():
            row = rows[ids[mode]]
            assert row["poll_failures"] >= 1 and row["last_poll_error"], (mode, row)
            # backing off (5 s doubling, jittered): far fewer calls than one per sweep (every second here).
            # Counted in calls (each failed call is one poll failure), not connections: a failed MCP call
            # may open two, and with the stream settling in ~10 s a connection count was too coarse.
            assert row["poll_failures"] < elapsed / 2, (mode, row["poll_failures"], agent.connections, elapsed)
    finally:
        for agent in bad.values():
            agent.stop()
