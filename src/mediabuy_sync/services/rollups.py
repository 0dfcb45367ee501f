"""services: each campaign's surfaced status — recomputed after its buys change, coalesced so a busy
campaign is recomputed at most once per interval, and swept when a recompute was lost. A recompute
also ends the campaign's lifecycle (COMPLETED) once its flight is over and every buy is done."""

from __future__ import annotations

import logging
from typing import Iterable

from .. import logs
from ..config import settings
from ..queue import coalesce, rabbit
from ..queue.names import RECOMPUTE, SWEEP_ROLLUPS
from ..store import campaigns
from ..store.db import transaction
from ..store.periodic import claim_turn
from . import notifications

log = logging.getLogger(__name__)


def recompute_changed(changed: dict[str, dict] | Iterable[str], publisher) -> None:
    """After a commit that changed these campaigns' buys (campaign → the log context its recompute's
    lines carry, e.g. a webhook's request id): recompute each now, in this task, or later once its
    minimum interval is over (coalesce.plan_recomputes); not at all if one is pending already.
    Never fails the caller: a rollup left owed is recomputed by the rollup sweeper."""
    contexts = changed if isinstance(changed, dict) else {campaign_id: {} for campaign_id in changed}
    if not contexts:
        return
    s = settings()
    try:
        if s.recompute_every_change:  # the benchmark's baseline: a task per change, as before coalescing
            for campaign_id in contexts:
                publisher.send_task(RECOMPUTE, args=[campaign_id])
            return
        now, later = coalesce.plan_recomputes(sorted(contexts), s.recompute_min_interval_seconds)
        for campaign_id, wait in later.items():
            token = logs.bind(**contexts[campaign_id])
            publisher.send_task(RECOMPUTE, args=[campaign_id], countdown=rabbit.countdown(wait, s.broker_url))
            logs.reset(token)
    except Exception as exc:  # noqa: BLE001
        log.warning("recompute of %s not queued (%s); the rollup sweeper will do it", sorted(contexts), exc)
        return
    if now:
        try:
            _recompute(now, contexts)
        except Exception as exc:  # noqa: BLE001 - PostgreSQL away: the rollups stay owed for the sweeper
            log.warning("recompute of %s failed (%s); the rollup sweeper will do it", now, exc)


def recompute(campaign_id: str) -> None:
    """A recompute that waited for its campaign's interval (or the rollup sweeper's)."""
    s = settings()
    if not s.recompute_every_change:
        coalesce.start_interval(campaign_id, s.recompute_min_interval_seconds)
    _recompute([campaign_id], {})


def _recompute(campaign_ids: list[str], contexts: dict[str, dict]) -> None:
    """Recompute the campaigns in one transaction, in id order (as every rollup locks them)."""
    coalesce.release(*campaign_ids)  # before reading: see coalesce's docstring
    with transaction() as conn:
        results = {}
        for campaign_id in sorted(campaign_ids):
            result = results[campaign_id] = campaigns.recompute_rollup(conn, campaign_id)
            if result is not None and result.changed:  # the outbox, in the rollup's transaction
                notifications.campaign_status_changed(conn, campaign_id, result.previous,
                                                      result.status.value if result.status else None,
                                                      result.blockers, result.first_blockers)
    for campaign_id, result in results.items():
        if result is None:
            continue
        token = logs.bind(**{**contexts.get(campaign_id, {}), "campaign_id": campaign_id})
        log.info("campaign %s surfaced %s blockers %s%s", campaign_id, result.status, list(result.first_blockers),
                 f" (+{result.blockers - len(result.first_blockers)})" if result.blockers > len(result.first_blockers) else "")
        logs.reset(token)


def sweep(publisher) -> int:
    """Beat's rollup sweep: recompute the campaigns whose rollup fell behind their buys (a lost recompute),
    and those due to complete (domain/lifecycle.completes) with no buy change left to trigger it."""
    with transaction() as conn:
        if not claim_turn(conn, SWEEP_ROLLUPS, settings().rollup_sweep_interval_seconds):
            return 0
        # and those whose flight ended after their last buy finished: a recompute completes them
        owed = sorted(set(campaigns.rollups_owed(conn)) | set(campaigns.completions_due(conn)))
    for campaign_id in owed:
        publisher.send_task(RECOMPUTE, args=[campaign_id])
    return len(owed)
