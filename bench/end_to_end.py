"""2. End to end: from a webhook's 2xx to its campaign's surfaced status committed, at a steady
200 webhooks/s for 60 s (paced open-loop), web and a worker of two processes on this machine.

2,000 campaigns of one buy each; webhook i toggles the buy of campaign i mod 2,000 (ACTIVE ⇄ PAUSED),
so each campaign hears at most one webhook per 10 s and every webhook changes its campaign's surfaced
status exactly once: webhook i's latency is the time of that change in the ledger (clock_timestamp()
when the recompute decided it, just before its commit) minus the time its 2xx reached the sender."""

from __future__ import annotations

from collections import defaultdict

from mediabuy_sync.store.db import transaction

from . import env as bench_env
from . import fixtures, load
from .report import Figure, percentile
from .worker_throughput import _owed

NAME = "e2e"
RATE = 200.0


def run(env: dict, quick: bool) -> list[Figure]:
    seconds = 10 if quick else 60
    n_campaigns = 2_000
    agents = fixtures.make_agents(20, prefix="eagent")
    agent_ids = list(agents)
    fixtures.make_campaigns(n_campaigns, 1, agent_ids)
    buys = [(fixtures.agent_of(c, 0, 1, agent_ids), fixtures.buy_of(c, 0)[1]) for c in range(n_campaigns)]
    bench_env.shared_worker(env)
    web, base = bench_env.start_web(env, ready_path="/readyz")
    with transaction() as conn:
        first_change = conn.execute("SELECT coalesce(max(id), 0) AS id FROM status_changes").fetchone()["id"]
    requests = load.presign(agents, buys, int(RATE * seconds))
    paced = load.pace(base, requests, RATE)
    bench_env.wait_until(lambda: _left_all() == 0, 900, 0.25, what="e2e: events processed")
    bench_env.wait_until(lambda: _owed() == 0, 120, 0.1, what="e2e: rollups done")
    web.stop()
    changes = defaultdict(list)  # campaign → [time of each surfaced change, in order]
    with transaction() as conn:
        for row in conn.execute(
                "SELECT entity_id, extract(epoch FROM at) AS at FROM status_changes "
                "WHERE entity_type = 'campaign' AND source = 'rollup' AND id > %s ORDER BY id", (first_change,)):
            changes[row["entity_id"]].append(float(row["at"]))
    latencies, missing = [], 0
    for i, answered in paced.answered_at:
        campaign, nth = f"cmp_b{i % n_campaigns}", i // n_campaigns
        seen = changes.get(campaign, [])
        if nth < len(seen):
            latencies.append((seen[nth] - answered) * 1000)
        else:
            missing += 1
    errors = sum(n for status, n in paced.statuses.items() if not 200 <= status < 300)
    note = (f"{len(latencies):,} webhooks at {paced.achieved_rate:.0f}/s for {seconds} s; "
            f"{errors} non-2xx, {missing} without their change")
    return [
        Figure(NAME, "2xx → surfaced status committed, p50", percentile(latencies, 50), "ms", 20, "<=", note),
        Figure(NAME, "2xx → surfaced status committed, p99", percentile(latencies, 99), "ms", 100, "<="),
        Figure(NAME, "webhook 2xx latency at 200/s, p99 (sender's view)", percentile(paced.latencies_ms, 99), "ms"),
    ]


def _left_all() -> int:
    with transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM webhook_events WHERE state = 'received'").fetchone()["n"]
