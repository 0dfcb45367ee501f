"""services: re-syncs and live status queries — ask the agents now about a buy, a campaign's buys or an
agent's, whatever their poll schedule: a sync_runs row, a worker task that polls, and whoever asked
waits for the row to finish. Light to import (the web starts runs); the polls run on the workers."""

from __future__ import annotations

import logging
import time

from ..config import settings
from ..domain.reports import Source
from ..domain.sync_runs import FINISHED, SyncRunKind, SyncRunSource, SyncRunState
from ..queue.names import AGENTS_QUEUE, INTERACTIVE_QUEUE, RUN_SYNC
from ..store import campaigns, polling, sync_runs
from ..store.db import transaction

log = logging.getLogger(__name__)

EMPTY_RESULT = {"agents_queried": 0, "media_buys": [], "errors": [], "updated": 0}


def request(kind: str, target_id: str, source: str, publisher) -> int:
    """Create the run and enqueue it; returns the run id. A re-sync that covers no buy is done at
    once (a live status query still runs: its answer lists the campaign's finished buys too)."""
    run_id = sync_runs.create(kind, target_id, source)
    if kind != SyncRunKind.STATUS_QUERY and sync_runs.get(run_id)["total"] == 0:
        sync_runs.finish(run_id, SyncRunState.DONE, EMPTY_RESULT)
    else:
        # a live status query is answered while the buyer waits; a re-sync is background work
        queue = INTERACTIVE_QUEUE if kind == SyncRunKind.STATUS_QUERY else AGENTS_QUEUE
        publisher.send_task(RUN_SYNC, args=[run_id], queue=queue)
    return run_id


def wait(run_id: int, timeout: float, interval: float = 0.1) -> dict:
    """The run once it is over, or as it stands when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        run = sync_runs.get(run_id)
        if run is None or run["state"] in FINISHED or time.monotonic() >= deadline:
            return run
        time.sleep(interval)


class TooSoon(Exception):
    """The campaign was queried less than MEDIABUY_STATUS_QUERY_WINDOW_SECONDS ago."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class NotFound(Exception):
    """No such campaign of this advertiser."""


class WorkersUnreachable(Exception):
    """The query could not be handed to the workers (the broker did not answer); nothing changed."""


def start_status_query(campaign_id: str, advertiser_id: str, publisher) -> int:
    """A buyer's live status query of a campaign, at most once per window; returns the run id.
    Raises NotFound, TooSoon, or WorkersUnreachable (the window is given back then)."""
    window = settings().status_query_window_seconds
    with transaction() as conn:
        if not campaigns.claim_status_query(conn, campaign_id, advertiser_id, window):
            retry_after = campaigns.status_query_retry_after(conn, campaign_id, advertiser_id, window)
            raise NotFound(campaign_id) if retry_after is None else TooSoon(retry_after)
    try:
        return request(SyncRunKind.STATUS_QUERY, campaign_id, SyncRunSource.API, publisher)
    except Exception as exc:
        with transaction() as conn:  # give the client its query back
            campaigns.release_status_query(conn, campaign_id)
        raise WorkersUnreachable(type(exc).__name__) from exc


def run(run_id: int, publisher) -> None:
    """The worker's side of a run: poll every buy it covers now, whatever its schedule; recompute
    what changed; record the result (every buy, its statuses before and after, and the errors)."""
    from ..adcp.client import run as run_coroutine  # the ADCP SDK: workers only
    from . import polling as polls
    from .rollups import recompute_changed

    s = settings()
    sync_run = sync_runs.get(run_id)
    if sync_run is None or sync_run["state"] in FINISHED:
        return  # a redelivered task: the run is over
    with transaction() as conn:
        by_agent = sync_runs.targets(conn, sync_run["kind"], sync_run["target_id"])
    work = {agent_id: polls.pages(ids) for agent_id, ids in by_agent.items()}
    live = sync_run["kind"] == SyncRunKind.STATUS_QUERY
    deadline = s.status_query_deadline_seconds if live else max(30.0, s.agent_call_timeout_seconds * 3)
    source = Source.API if sync_run["source"] == SyncRunSource.API else Source.ADMIN
    results = run_coroutine(polls.poll_many(work, source, deadline, on_page=lambda n: sync_runs.progress(run_id, n)))
    recompute_changed({c for r in results for c in r.campaigns_changed}, publisher)
    buys = [b for r in results for b in r.buys]
    errors = [e for r in results for e in r.errors]
    if live:  # the answer lists every buy of the campaign; terminal ones were not asked about
        asked = {b["media_buy_id"] for b in buys} | {e["media_buy_id"] for e in errors}
        with transaction() as conn:
            for row in polling.buys_of_campaign(conn, sync_run["target_id"]):
                if row["id"] not in asked:
                    buys.append({"media_buy_id": row["id"], "adcp_media_buy_id": row["adcp_media_buy_id"],
                                 "internal_status": row["status"], "adcp_status": row["adcp_status"],
                                 "previous_internal_status": row["status"], "previous_adcp_status": row["adcp_status"],
                                 "updated": False})
        buys.sort(key=lambda b: b["media_buy_id"])
    summary = {
        "agents_queried": len(work),
        "media_buys": buys,
        "errors": errors,
        "updated": sum(b["updated"] for b in buys),
    }
    sync_runs.finish(run_id, SyncRunState.DONE, summary)
    log.info("sync run %s (%s %s): %d buys, %d updated, %d errors", run_id, sync_run["kind"],
             sync_run["target_id"], len(buys), summary["updated"], len(errors))
