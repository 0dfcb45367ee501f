"""4. Coalescing: 10,000 events over the 100 buys of one campaign, arriving within 10 s (committed to
the inbox at an even pace over the 10 s, a drain asked for after each commit as the web does, while
two worker processes drain them).
Recomputes must stay ≤ 2% of the events and the final surfaced status must be right, whatever order
the events were applied in (each buy's last report, by its timestamp, decides)."""

from __future__ import annotations

import time

from mediabuy_sync.store.db import transaction

from . import env as bench_env
from . import fixtures
from .report import Figure
from .worker_throughput import _left, _owed

NAME = "coalescing"


def run(env: dict, quick: bool) -> list[Figure]:
    n_events, window = (2_000, 2.0) if quick else (10_000, 10.0)
    buys = 100
    agent_ids = list(fixtures.make_agents(5, prefix="cagent"))
    [campaign_id] = fixtures.make_campaigns(1, buys, agent_ids)
    rows = []
    for j in range(n_events):
        k = j % buys
        last = j >= n_events - buys
        # alternate paused/active; in the last round buy 0 ends PAUSED and every other buy ACTIVE
        status = ("paused" if k == 0 else "active") if last else ("paused" if (j // buys) % 2 == 0 else "active")
        rows.append((fixtures.agent_of(0, k, buys, agent_ids), fixtures.status_webhook(f"sa_0_{k}", status, 10 + j)))
    with transaction() as conn:
        conn.execute("UPDATE campaigns SET rollups = 0")
    bench_env.shared_worker(env)
    started = time.monotonic()
    chunk = max(1, n_events // 50)
    event_ids = []
    for i in range(0, n_events, chunk):
        event_ids += fixtures.insert_events(rows[i:i + chunk])
        fixtures.request_drain()
        # even pacing: chunk i goes out at i / n × window
        delay = started + (i + chunk) / n_events * window - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    committed_in = time.monotonic() - started
    bench_env.wait_until(lambda: _left(event_ids) == 0, 900, 0.25, what="coalescing: events processed")
    bench_env.wait_until(lambda: _owed() == 0, 120, 0.1, what="coalescing: rollup done")
    drained_in = time.monotonic() - started
    with transaction() as conn:
        campaign = conn.execute("SELECT surfaced_status, blockers, rollups FROM campaigns WHERE id = %s",
                                (campaign_id,)).fetchone()
    right = campaign["surfaced_status"] == "PAUSED" and list(campaign["blockers"]) == ["mb_0_0"]
    share = campaign["rollups"] / n_events * 100
    return [
        Figure(NAME, f"recomputes per event, {n_events:,} events over {buys} buys", share, "%", 2.0, "<=",
               f"{campaign['rollups']} recomputes; committed over {committed_in:.1f} s, all applied after {drained_in:.1f} s"),
        Figure(NAME, "final surfaced status right (PAUSED, blocker mb_0_0)", 1.0 if right else 0.0, "", 1.0, ">=",
               f"got {campaign['surfaced_status']} {list(campaign['blockers'])[:3]}"),
    ]
