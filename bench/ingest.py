"""1. Ingest: signed, unique webhooks accepted per second (verify + validate + inbox commit + enqueue)
by gunicorn as the Procfile runs it, beside the same gunicorn configuration serving a bare Flask
route (bench/bare_app.py), both driven by wrk with pre-signed requests; then the p99 latency at half
the maximum rate, paced open-loop (bench/load.py: request i is due at i / rate, latency counted from
then). wrk's own CPU is reported: well under one core while the server is saturated means the load
generator is not what limits the figures."""

from __future__ import annotations

import time

from mediabuy_sync.store.db import transaction

from . import env as bench_env
from . import cpu, fixtures, load
from .report import Figure, percentile

NAME = "ingest"


def _events() -> int:
    with transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM webhook_events").fetchone()["n"]


def run(env: dict, quick: bool) -> list[Figure]:
    seconds = 5 if quick else 15
    agents = fixtures.make_agents(20, prefix="iagent")
    agent_ids = list(agents)
    fixtures.make_campaigns(100, 20, agent_ids)
    buys = [(fixtures.agent_of(c, k, 20, agent_ids), fixtures.buy_of(c, k)[1]) for c in range(100) for k in range(20)]
    web, base = bench_env.start_web(env, ready_path="/readyz")
    bare, bare_base = bench_env.start_web(env, name="web-bare", app="bench.bare_app:create_app()")
    # enough distinct requests for a fast server; wrk threads start their slice again when they run out
    # (a repeat answers 200 duplicate, which the inbox count below leaves out)
    presigned = load.presign(agents, buys, 2_500 * seconds)
    script, data = load.write_wrk_inputs(presigned, "ingest")
    warm = load.presign(agents, buys, 200, first_second=1_000_000)
    load.pace(base, warm, 100)  # both servers warm: imports, pools, first connections
    load.pace(bare_base, warm, 100)

    bare_run = load.wrk(bare_base, script, data, seconds)
    before, cpu_before, started = _events(), cpu.snapshot(), time.monotonic()
    ours = load.wrk(base, script, data, seconds)
    cores = cpu.summary(cpu.cores_by_group(cpu_before, cpu.snapshot(), time.monotonic() - started))
    accepted = (_events() - before) / seconds
    (bench_env.OUTPUT / "wrk-bare.txt").write_text(bare_run.output)
    (bench_env.OUTPUT / "wrk-ingest.txt").write_text(ours.output)

    half = accepted / 2
    paced_seconds = seconds if quick else seconds * 2  # --quick stays under two minutes in all
    paced_requests = load.presign(agents, buys, int(half * paced_seconds), first_second=2_000_000)
    paced = load.pace(base, paced_requests, half)
    p99 = percentile(paced.latencies_ms, 99)
    p50 = percentile(paced.latencies_ms, 50)
    paced_errors = sum(n for status, n in paced.statuses.items() if not 200 <= status < 300)
    web.stop()
    bare.stop()
    return [
        Figure(NAME, "bare Flask route, same gunicorn config: requests/s", bare_run.rate, "/s",
               note=f"wrk -t2 -c16, p99 {bare_run.p99_ms} ms, wrk CPU {bare_run.cpu_share:.2f} core"),
        Figure(NAME, "signed unique webhooks accepted/s", accepted, "/s",
               note=f"wrk p50 {ours.p50_ms} ms p99 {ours.p99_ms} ms, wrk CPU {ours.cpu_share:.2f} core; "
                    f"cores used: {cores}"),
        Figure(NAME, "accepted/s ÷ bare route requests/s", accepted / bare_run.rate if bare_run.rate else None,
               "×", 0.4, ">="),
        Figure(NAME, f"p99 at half the maximum rate ({half:.0f}/s, paced open-loop)", p99, "ms", 25, "<=",
               f"p50 {p50:.1f} ms, {paced.sent:,} requests at {paced.achieved_rate:.0f}/s achieved"),
        Figure(NAME, "errors (socket errors and non-2xx, both runs)", float(ours.errors + paced_errors), "", 0, "<=",
               f"bare route: {bare_run.errors}"),
    ]
