"""services: fallback polling — ask an agent about a page of buys with one get_media_buys call, and put
what it says through the same status path as a webhook (source `poll`); a poll task's agents at once,
and the re-syncs and live status queries that poll now (services/resync.py).

Imports the ADCP client (the SDK), so only worker processes load this module.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import logs, metrics
from ..adcp import client
from ..domain.polling import BACKSTOP, backoff_seconds, next_poll_in
from ..config import settings
from ..domain.reports import Outcome, Source, StatusReport, deliveries_from_webhook
from ..domain.statuses import MEDIA_BUY_STATUS_TO_INTERNAL, Status, from_polled_media_buy
from ..queue.in_flight import PAGE_SIZE, clear_in_flight
from ..store import agents, media_buys, polling
from ..store.db import transaction
from .delivery import apply_delivery
from .status_path import apply_report

log = logging.getLogger(__name__)

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
        target = agents.for_calls(conn, agent_id)
    if target is None:
        return None
    return client.Agent(target.agent_id, target.endpoint_uri, target.protocol, target.auth_token, target.auth_header)


async def poll_page(agent: client.Agent, buy_ids: list[str], source: str = Source.POLL,
                    timeout: float = CALL_TIMEOUT) -> PageResult:
    """One get_media_buys call for these buys of one agent; apply what it says; plan the next polls."""
    result = PageResult(agent.id)
    with transaction() as conn:
        buys = polling.buys_to_poll(conn, agent.id, buy_ids)
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
        polling.poll_succeeded(conn, agent.id)
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
        polling.schedule(conn, next_ids, delays)
        if result.campaigns_changed:
            media_buys.bump_campaigns(conn, sorted(result.campaigns_changed))
    if source == Source.POLL:
        await _read_quiet_delivery(agent, [b["id"] for b in buys], timeout)
    return result


# Buys that deliver (or did until paused): the delivery backstop reads theirs when reports went quiet.
DELIVERING = sorted({Status.ACTIVE, Status.PAUSED})


async def _read_quiet_delivery(agent: client.Agent, buy_ids: list[str], timeout: float) -> None:
    """The delivery backstop: sellers send delivery reports only when asked (reporting_webhook) and
    may not even then; a live buy quiet for MEDIABUY_DELIVERY_QUIET_SECONDS has its delivery read with
    get_media_buy_delivery (one call for the page's quiet buys), at most once per that long."""
    with transaction() as conn:
        quiet = polling.claim_quiet_delivery(conn, buy_ids, DELIVERING, settings().delivery_quiet_seconds)
    if not quiet:
        return
    try:
        answer = await client.get_media_buy_delivery(
            agent, {"media_buy_ids": [b["adcp_media_buy_id"] for b in quiet]}, timeout)
        data = answer.get("data") or {}
        as_of = (data.get("reporting_period") or {}).get("end") or datetime.now(timezone.utc)
        reports = deliveries_from_webhook({"task_type": "media_buy_delivery", "timestamp": as_of, "result": data})
    except (client.AgentCallError, KeyError, TypeError, ValueError) as exc:  # the next quiet period tries again
        metrics.POLL_CALLS.labels(agent.id, "delivery_" + getattr(exc, "kind", client.BAD_RESPONSE)).inc()
        log.warning("delivery of %d quiet buys of agent %s not read: %s", len(quiet), agent.id, exc)
        return
    metrics.POLL_CALLS.labels(agent.id, "delivery_ok").inc()
    buy_of = {b["adcp_media_buy_id"]: b["id"] for b in quiet}
    with transaction() as conn:
        for report in reports:
            if report.adcp_media_buy_id in buy_of:
                apply_delivery(conn, buy_of[report.adcp_media_buy_id], report)


def _seconds_since(moment, now) -> float | None:
    return (now - moment).total_seconds() if moment else None


def _record_failure(agent_id: str, buy_ids: list[str], exc: client.AgentCallError) -> None:
    """Back the agent off (exponential, jittered) and leave its buys until the backoff ends."""
    with transaction() as conn:
        failures = polling.poll_failures(conn, agent_id) + 1
        until = polling.poll_failed(conn, agent_id, str(exc)[:500], backoff_seconds(failures))
        polling.defer(conn, buy_ids, until)
    log.warning("poll of agent %s failed (%s), backing off until %s", agent_id, exc.kind, until)


def pages(ids: list[str], size: int = PAGE_SIZE) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# A poll task polls several agents at once (MEDIABUY_POLL_AGENTS_PER_TASK) in its process's event
# loop: the calls wait ~50-100 ms on the agents and cost ~10 ms of CPU, so one agent per task left
# both slots mostly waiting (100,000 buys over 200 agents: 82 s with one agent per task). Each
# agent's own pages go one after another, and stop at its first failure (queue/in_flight.py).


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
                        polling.defer_to_backoff(conn, agent_id, rest)
                break
        if changed:
            on_changed(changed)
    finally:
        try:
            clear_in_flight(agent_id)
        except Exception as exc:  # noqa: BLE001 - the mark expires by itself
            log.warning("in-flight mark of agent %s not cleared (%s)", agent_id, exc)
        logs.reset(token)


def poll_all(work: dict[str, list[str]], call_timeout: float, on_changed=lambda c: None) -> None:
    """One poll task's work: each agent's buys (poll_agent_pages), all agents at once."""

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
    loaded = {agent_id: load_agent(agent_id) for agent_id in work}

    async def one_agent(agent_id: str) -> list[PageResult]:
        agent = loaded[agent_id]
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
