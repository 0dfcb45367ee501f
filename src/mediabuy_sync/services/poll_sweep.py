"""services: beat's poll sweep — the buys due a fallback poll, leased per agent and handed to poll tasks.

SDK-free (the polls themselves are services/polling.py): a sweep only reads and leases in PostgreSQL.
"""

from __future__ import annotations

import psycopg

from ..config import settings
from ..domain.statuses import POLLED
from ..queue.in_flight import PAGE_SIZE, agents_in_flight, in_flight_ttl, mark_in_flight
from ..queue.names import POLL_AGENTS, SWEEP_POLLS
from ..store import polling
from ..store.db import transaction
from ..store.periodic import claim_turn


def claim_due(conn: psycopg.Connection, per_agent_pages: int = 2, lease: float = 120.0,
              in_flight: set[str] = frozenset()) -> dict[str, list[str]]:
    """The due buys, leased, per agent: {agent id: [buy id, …]} (a poll cuts them into pages);
    none of the agents `in_flight` (their previous poll is still running)."""
    rows = polling.claim_due(conn, sorted(POLLED), per_agent_pages * PAGE_SIZE, lease, sorted(in_flight))
    by_agent: dict[str, list[str]] = {}
    for row in rows:
        by_agent.setdefault(row["sales_agent_id"], []).append(row["id"])
    return {agent: sorted(ids) for agent, ids in by_agent.items()}


def sweep(publisher) -> int:
    """Beat's poll sweep: poll tasks for the due buys (a few pages per agent, several agents per
    task), none for an agent whose last poll is still running (queue/in_flight.py). Returns the buys."""
    s = settings()
    # One transaction: the turn's row stays locked while the buys are leased and their agents marked
    # in flight, so a sweep that starts while a slow one still claims (1 s apart in the benchmark)
    # waits for it, then reads its marks and finds its buys leased. With the claim after the turn's
    # commit, two sweeps could lease the same buys (each read them due before the other's lease
    # committed): pages polled twice, 3-5 % of the calls in full benchmark runs on a slow machine.
    # (Marked before the commit: if the commit fails, those agents wait for their marks to expire.)
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_POLLS, s.poll_sweep_interval_seconds):
            return 0
        due = claim_due(conn, per_agent_pages=s.poll_pages_per_agent, in_flight=agents_in_flight())
        if not due:
            return 0
        mark_in_flight({agent_id: in_flight_ttl(len(ids), s.agent_call_timeout_seconds) for agent_id, ids in due.items()})
    agent_ids = list(due)
    for start in range(0, len(agent_ids), s.poll_agents_per_task):
        publisher.send_task(POLL_AGENTS, args=[{a: due[a] for a in agent_ids[start : start + s.poll_agents_per_task]}])
    return sum(len(ids) for ids in due.values())
