"""5. Rollup cost by campaign size: one recompute of a campaign of 10 … 10,000 buys.

Side by side in the same run: the recompute as shipped (store.campaigns.recompute_rollup) and the
way it was first written (every buy's row read into Python and rolled up there), on the same campaigns.
"""

from __future__ import annotations

import statistics
import time

from mediabuy_sync.domain.rollup import rollup
from mediabuy_sync.store import campaigns
from mediabuy_sync.store.db import transaction

from . import fixtures
from .report import Figure

NAME = "rollup"
SIZES = (10, 100, 1_000, 10_000)


def recompute_reading_every_row(conn, campaign_id: str):
    """The first version: every buy's (id, status) to Python, then the domain's rollup."""
    campaign = conn.execute("SELECT status_version, surfaced_status FROM campaigns WHERE id = %s FOR UPDATE",
                            (campaign_id,)).fetchone()
    buys = conn.execute("SELECT id, status FROM media_buys WHERE campaign_id = %s", (campaign_id,)).fetchall()
    result = rollup((b["id"], b["status"]) for b in buys)
    conn.execute("UPDATE campaigns SET surfaced_status = %s, blockers = %s, rollup_version = %s, rollup_at = now(), "
                 "rollups = rollups + 1 WHERE id = %s",
                 (result.status.value if result.status else None, list(result.blockers), campaign["status_version"],
                  campaign_id))
    return result


def _time(fn, campaign_id: str, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        with transaction() as conn:
            start = time.perf_counter()
            fn(conn, campaign_id)
            conn.commit()  # the commit is part of a recompute's cost
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def run(env: dict, quick: bool) -> list[Figure]:
    agent_ids = list(fixtures.make_agents(10, prefix="ragent"))
    figures = []
    repeats = 7 if quick else 21
    for size in SIZES:
        [campaign_id] = _campaign(size, agent_ids)
        with transaction() as conn:
            # realistic mix: most buys active, a few paused, one pending approval (the blocker)
            conn.execute("UPDATE media_buys SET status = 'PAUSED' WHERE campaign_id = %s AND id LIKE '%%7'",
                         (campaign_id,))
            conn.execute("UPDATE media_buys SET status = 'PENDING_APPROVAL' WHERE id = (SELECT min(id) FROM "
                         "media_buys WHERE campaign_id = %s)", (campaign_id,))
        _vacuum()
        new = _time(campaigns.recompute_rollup, campaign_id, repeats)
        old = _time(recompute_reading_every_row, campaign_id, repeats)
        figures.append(Figure(NAME, f"one recompute, {size:,} buys", new, "ms",
                              5.0 if size == 10_000 else None, "<=" if size == 10_000 else "info",
                              f"first version {old:.2f} ms = {old / new:.1f}× this"))
    # the worst case for the blockers: every buy holds the surfaced status (10,000 ids to gather and store)
    with transaction() as conn:
        conn.execute("UPDATE media_buys SET status = 'ACTIVE' WHERE campaign_id = %s", (campaign_id,))
    _vacuum()
    new = _time(campaigns.recompute_rollup, campaign_id, repeats)
    old = _time(recompute_reading_every_row, campaign_id, repeats)
    figures.append(Figure(NAME, f"one recompute, {size:,} buys all ACTIVE ({size:,} blockers)", new, "ms",
                          note=f"first version {old:.2f} ms = {old / new:.1f}× this"))
    return figures


def _campaign(size: int, agent_ids: list[str]) -> list[str]:
    """A campaign of `size` buys under a fresh id (the fixtures name campaigns cmp_b<n>)."""
    with transaction() as conn:
        offset = conn.execute("SELECT count(*) AS n FROM campaigns").fetchone()["n"]
    return fixtures.make_campaigns(1, size, agent_ids, first=offset)


def _vacuum() -> None:
    import psycopg

    from mediabuy_sync.config import settings

    with psycopg.connect(settings().database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE media_buys")
        conn.execute("VACUUM ANALYZE campaigns")
