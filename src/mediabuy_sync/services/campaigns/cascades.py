"""services: carrying a campaign action to the agents — one worker job per sales agent per cascade,
started together; the web waits for them up to its deadline and answers with each buy's result; beat
starts again the jobs that were lost."""

from __future__ import annotations

import logging
import time

from ...config import settings
from ...domain.cascades import CascadeState, ItemState
from ...queue.names import INTERACTIVE_QUEUE, RUN_CASCADE_AGENT, SWEEP_CASCADES
from ...store import cascades
from ...store.db import transaction
from ...store.periodic import claim_turn

log = logging.getLogger(__name__)


def start(cascade_ids: list[int], publisher) -> bool:
    """One job per sales agent per cascade, so agents are called in parallel, in the interactive queue
    (a buyer's request waits for them). False when the broker could not be reached: the cascades
    sweeper starts them later (in the agents queue: nobody waits for them any more)."""
    try:
        for cascade_id in cascade_ids:
            with transaction() as conn:
                agent_ids = cascades.agents_pending(conn, cascade_id)
            for agent_id in agent_ids:
                publisher.send_task(RUN_CASCADE_AGENT, args=[cascade_id, agent_id], queue=INTERACTIVE_QUEUE)
    except Exception as exc:  # noqa: BLE001 - the action is committed; the sweeper carries it on
        log.warning("cascades %s not enqueued (%s); the cascade sweeper will start them", cascade_ids, exc)
        return False
    return True


def wait(cascade_ids: list[int], timeout: float, interval: float = 0.05) -> list[dict]:
    """The cascades (with their items) once none is running, or as they stand at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = [cascades.get(cascade_id) for cascade_id in cascade_ids]
        if all(c["state"] != CascadeState.RUNNING for c in found) or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def item_results(found: list[dict]) -> dict[str, dict]:
    """Per media buy across these cascades: {mediaBuyId, salesAgentId, previousStatus, status, success,
    pending, error?} — failed if any of its items failed, pending while any is."""
    results: dict[str, dict] = {}
    for cascade in found:
        for item in cascade["items"]:
            entry = results.setdefault(item["media_buy_id"], {
                "mediaBuyId": item["media_buy_id"], "salesAgentId": item["sales_agent_id"],
                "previousStatus": item["previous_status"], "success": True, "pending": False})
            entry["status"] = item["media_buy_status"]
            if item["state"] == ItemState.PENDING:
                entry["pending"] = True
                entry["success"] = False
            elif item["state"] in (ItemState.FAILED, ItemState.UNCONFIRMED):  # unconfirmed: "done", not seen
                entry["success"] = False
                entry.setdefault("error", error_message(item["error"]))
    return results


def error_message(error: dict | None) -> str:
    if not error:
        return "failed"
    return f"{error.get('kind', 'error')}: {error.get('message', '')}".strip()


def sweep(publisher) -> int:
    """Beat's cascade sweep: start again the agent jobs of cascades whose job was lost (a failed
    enqueue, a purged queue, a worker killed mid-call); returns how many."""
    s = settings()
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_CASCADES, s.inbox_sweep_interval_seconds):
            return 0
        # A (cascade, agent) whose pending items nobody touched for this long lost its job: longer than
        # a live job's call plus a retry's short countdown can take (MEDIABUY_CASCADE_STALE_AFTER_SECONDS).
        jobs = cascades.claim_stale_jobs(conn, s.cascade_stale_after_seconds)
    for cascade_id, agent_id in jobs:
        publisher.send_task(RUN_CASCADE_AGENT, args=[cascade_id, agent_id])
    if jobs:
        log.info("cascade sweep restarted %d agent jobs", len(jobs))
    return len(jobs)
