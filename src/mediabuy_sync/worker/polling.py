"""Fallback polling: ask an agent about a page of buys with one get_media_buys call, and put what it
says through the same status path as a webhook (source `poll`).

Imports the ADCP client, so only worker processes load this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg

from .. import logs, metrics
from ..adcp import client
from ..config import settings
from ..domain.polling import BACKSTOP, SOON, backoff_seconds, next_poll_in
from ..domain.reports import Outcome, StatusReport
from ..domain.statuses import MEDIA_BUY_STATUS_TO_INTERNAL, from_polled_media_buy
from ..store.db import queries, transaction
from .status_path import apply_report

log = logging.getLogger(__name__)
Q = queries("polling")
QB = queries("media_buys")

PAGE_SIZE = 100
CALL_TIMEOUT = 10.0


@dataclass
class PageResult:
    agent_id: str
    buys: list[dict] = field(default_factory=list)  # per buy: id, adcp id, before/after statuses, updated
    errors: list[dict] = field(default_factory=list)  # per buy: media_buy_id, error
    campaigns_changed: set[str] = field(default_factory=set)
    call_error: client.AgentCallError | None = None


def load_agent(agent_id: str) -> client.Agent | None:
    with transaction() as conn:
        row = conn.execute(Q["agent_for_calls"], {"agent_id": agent_id}).fetchone()
    return client.Agent(row["id"], row["endpoint_uri"], row["protocol"], row["outbound_auth"]) if row else None


async def poll_page(agent: client.Agent, buy_ids: list[str], source: str = "poll", timeout: float = CALL_TIMEOUT) -> PageResult:
    """One get_media_buys call for these buys of one agent; apply what it says; plan the next polls."""
    result = PageResult(agent.id)
    with transaction() as conn:
        buys = conn.execute(Q["buys_to_poll"], {"buy_ids": buy_ids, "agent_id": agent.id}).fetchall()
    if not buys:
        return result
    try:
        polled = await client.get_media_buys(agent, [b["adcp_media_buy_id"] for b in buys], timeout)
    except client.AgentCallError as exc:
        metrics.POLL_CALLS.labels(agent.id, exc.kind).inc()
        result.call_error = exc
        _record_failure(agent.id, [b["id"] for b in buys], exc)
        result.errors = [{"media_buy_id": b["id"], "error": exc.as_dict()} for b in buys]
        return result
    metrics.POLL_CALLS.labels(agent.id, "ok").inc()
    now = datetime.now(timezone.utc)
    by_adcp_id = {p.adcp_media_buy_id: p for p in polled}
    with transaction() as conn:
        conn.execute(Q["poll_succeeded"], {"agent_id": agent.id})
        next_ids, delays = [], []
        for buy in buys:  # sorted by id: the same lock order as every other path
            answer = by_adcp_id.get(buy["adcp_media_buy_id"])
            if answer is None or answer.status not in MEDIA_BUY_STATUS_TO_INTERNAL:
                why = "the agent does not know this media buy" if answer is None else f"unknown status {answer.status!r}"
                result.errors.append({"media_buy_id": buy["id"], "error": {"kind": client.BAD_RESPONSE, "message": why}})
                next_ids.append(buy["id"])
                delays.append(BACKSTOP)
                continue
            report = StatusReport(
                adcp_media_buy_id=answer.adcp_media_buy_id, operation_id=None, task_id=None,
                status=from_polled_media_buy(answer.status, answer.confirmed), adcp_status=answer.status,
                as_of=answer.status_as_of or now,
            )
            applied = apply_report(conn, agent.id, report, source=source, record_noops=False)
            if applied.outcome == Outcome.APPLIED:
                result.campaigns_changed.add(applied.campaign_id)
            result.buys.append({
                "media_buy_id": buy["id"], "adcp_media_buy_id": buy["adcp_media_buy_id"],
                "internal_status": applied.to_status, "adcp_status": applied.to_adcp_status,
                "previous_internal_status": applied.from_status, "previous_adcp_status": applied.from_adcp_status,
                "updated": applied.outcome == Outcome.APPLIED,
            })
            if applied.outcome != Outcome.ANOMALY:  # an anomaly planned its own reconcile poll
                next_ids.append(buy["id"])
                delays.append(next_poll_in(applied.to_status, _seconds_since(buy.get("last_webhook_at"), now)))
        conn.execute(Q["schedule_polls"], {"buy_ids": next_ids, "delays": delays})
        if result.campaigns_changed:
            conn.execute(QB["bump_campaigns"], {"campaign_ids": sorted(result.campaigns_changed)})
    return result


def _seconds_since(moment, now) -> float | None:
    return (now - moment).total_seconds() if moment else None


def _record_failure(agent_id: str, buy_ids: list[str], exc: client.AgentCallError) -> None:
    """Back the agent off (exponential, jittered) and leave its buys until the backoff ends."""
    with transaction() as conn:
        failures = conn.execute(Q["poll_failures"], {"agent_id": agent_id}).fetchone()["poll_failures"] + 1
        row = conn.execute(
            Q["poll_failed"], {"agent_id": agent_id, "error": str(exc)[:500], "backoff": backoff_seconds(failures)}
        ).fetchone()
        conn.execute(Q["defer_polls"], {"buy_ids": buy_ids, "until": row["poll_backoff_until"]})
    log.warning("poll of agent %s failed (%s), backing off until %s", agent_id, exc.kind, row["poll_backoff_until"])


def claim_due(conn: psycopg.Connection, per_agent_pages: int = 2, lease: float = 120.0,
              in_flight: set[str] = frozenset()) -> dict[str, list[str]]:
    """The due buys, leased, per agent: {agent id: [buy id, …]} (a poll cuts them into pages);
    none of the agents `in_flight` (their previous poll is still running)."""
    from ..domain.statuses import POLLED

    rows = conn.execute(
        Q["claim_due_buys"],
        {"polled": sorted(POLLED), "per_agent": per_agent_pages * PAGE_SIZE, "lease": lease,
         "in_flight": sorted(in_flight)},
    ).fetchall()
    by_agent: dict[str, list[str]] = {}
    for row in rows:
        by_agent.setdefault(row["sales_agent_id"], []).append(row["id"])
    return {agent: sorted(ids) for agent, ids in by_agent.items()}


def pages(ids: list[str], size: int = PAGE_SIZE) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# --- at most one poll in flight per agent -------------------------------------------------------
# A poll of an agent that hangs holds its task's worker slot for the whole call timeout. So a poll
# task polls each of its agents' pages one after another and stops at the first failure, and a sweep
# sends no new poll for an agent whose previous one still runs: a failing agent gets one call at a
# time, and one hanging agent holds one slot at most (tests/faults/test_bad_agents.py). A task polls
# several agents at once (MEDIABUY_POLL_AGENTS_PER_TASK) in its process's event loop: the calls
# wait ~50-100 ms on the agents and cost ~10 ms of CPU, so one agent per task left both slots
# mostly waiting (100,000 buys over 200 agents: 82 s with one agent per task).
# The in-flight marks live in Redis (a hash: agent -> expiry), like the recompute coalescing keys:
# a lost task's mark expires by itself.


def _redis():
    from .coalesce import _redis as shared  # the worker's one client for its own keys

    return shared()


def _in_flight_key() -> str:
    return f"{settings().redis_namespace}poll-in-flight"


def agents_in_flight() -> set[str]:
    now = time.time()
    return {agent.decode() for agent, until in _redis().hgetall(_in_flight_key()).items() if float(until) > now}


def mark_in_flight(seconds_by_agent: dict[str, float]) -> None:
    """{agent: how long its poll may run}: every agent of a sweep in one Redis command."""
    now = time.time()
    _redis().hset(_in_flight_key(), mapping={agent: now + seconds for agent, seconds in seconds_by_agent.items()})


def clear_in_flight(agent_id: str) -> None:
    _redis().hdel(_in_flight_key(), agent_id)


def in_flight_ttl(buys: int, call_timeout: float) -> float:
    """How long an agent's poll may run at most: its pages' calls and a margin for the queue."""
    return -(-buys // PAGE_SIZE) * call_timeout + 60.0  # one call per page, rounded up


async def poll_agent_pages(agent_id: str, buy_ids: list[str], call_timeout: float, on_changed=lambda c: None) -> None:
    """One agent's due buys, page after page; at the first failure the rest wait for the agent's
    backoff. `on_changed(campaign ids)` once the agent is done. Clears the agent's in-flight mark."""
    token = logs.bind(agent_id=agent_id)  # this coroutine's own context: its log lines name its agent
    try:
        agent = load_agent(agent_id)
        if agent is None:
            return
        changed: set[str] = set()
        todo = pages(sorted(buy_ids))
        for number, page in enumerate(todo):
            result = await poll_page(agent, page, timeout=call_timeout)
            changed |= result.campaigns_changed
            if result.call_error is not None:
                rest = [b for later in todo[number + 1 :] for b in later]
                if rest:
                    with transaction() as conn:
                        conn.execute(Q["defer_polls_to_backoff"], {"agent_id": agent_id, "buy_ids": rest})
                break
        if changed:
            on_changed(changed)
    finally:
        try:
            clear_in_flight(agent_id)
        except Exception as exc:  # noqa: BLE001 - the mark expires by itself
            log.warning("in-flight mark of agent %s not cleared (%s)", agent_id, exc)
        logs.reset(token)


def poll_agents(work: dict[str, list[str]], call_timeout: float, on_changed=lambda c: None) -> None:
    """One poll task: each agent's buys (poll_agent_pages), all agents at once."""

    async def all_agents() -> None:
        outcomes = await asyncio.gather(
            *(poll_agent_pages(agent_id, buy_ids, call_timeout, on_changed) for agent_id, buy_ids in work.items()),
            return_exceptions=True,
        )
        failed = [(a, o) for a, o in zip(work, outcomes) if isinstance(o, BaseException)]
        for agent_id, exc in failed:  # one agent's failure (the database, say) leaves the others done
            log.error("poll of agent %s failed: %r", agent_id, exc, exc_info=exc)
        if failed:
            raise failed[0][1]

    client.run(all_agents())


async def poll_many(
    work: dict[str, list[list[str]]], source: str, deadline: float, on_page=lambda n: None
) -> list[PageResult]:
    """Poll several agents at once (each agent's pages one after another) within one deadline;
    `on_page(number of buys)` after each page, for progress."""
    agents = {agent_id: load_agent(agent_id) for agent_id in work}

    async def one_agent(agent_id: str) -> list[PageResult]:
        agent = agents[agent_id]
        if agent is None:
            return []
        done = []
        for page in work[agent_id]:
            done.append(await poll_page(agent, page, source, timeout=min(CALL_TIMEOUT, deadline)))
            on_page(len(page))
        return done

    async def bounded(agent_id: str) -> list[PageResult]:
        try:
            return await asyncio.wait_for(one_agent(agent_id), deadline)
        except asyncio.TimeoutError:
            exc = client.AgentCallError(client.TIMEOUT, f"no answer within {deadline:g} s")
            return [PageResult(agent_id, errors=[{"media_buy_id": b, "error": exc.as_dict()}
                                                 for page in work[agent_id] for b in page], call_error=exc)]

    results = await asyncio.gather(*(bounded(a) for a in work))
    return [page for agent_pages in results for page in agent_pages]


__all__ = ["PAGE_SIZE", "PageResult", "SOON", "agents_in_flight", "claim_due", "in_flight_ttl", "load_agent",
           "mark_in_flight", "pages", "poll_agent_pages", "poll_agents", "poll_many", "poll_page"]
