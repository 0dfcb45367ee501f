"""1. Ingest: signed, unique webhooks accepted per second (verify + validate + inbox commit + enqueue)
by gunicorn as the Procfile runs it, beside the same gunicorn configuration serving a bare Flask
route (bench/bare_app.py) and the yardstick a user would pick (bench/sdk_receiver_app.py: the ADCP
SDK's WebhookReceiver, legacy HMAC and dedup in memory, then a Celery send_task: not durable), all
driven by wrk with the same pre-signed requests; then the p99 latency at half the maximum rate, paced
open-loop (bench/load.py: request i is due at i / rate, latency counted from then). wrk's own CPU is
reported: well under one core while the server is saturated means the load generator is not what
limits the figures."""

from __future__ import annotations

import json
import time
from collections import Counter

import psycopg
import redis

from mediabuy_sync.store.db import autocommit, transaction

from . import env as bench_env
from . import cpu, fixtures, load
from .report import Figure, percentile

NAME = "ingest"


def _events() -> int:
    with transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM webhook_events").fetchone()["n"]


def _checkpoint() -> bool:
    """Before the paced run: a CHECKPOINT, so that PostgreSQL recycles the WAL segments the rounds
    filled, as a server writing at a steady rate does. Without it the paced run came right after a
    fresh database's first few hundred MB of WAL, and each new 16 MB segment PostgreSQL created (and
    zero-filled: wal_init_zero) held every commit for 50-150 ms — p99 39.8, 18.6 and 57.9 ms in three
    runs; with wal_init_zero off 11.0, 11.6 and 8.9 ms; after a CHECKPOINT 11.2, 8.5, 8.8 and 9.8 ms.
    Needs a superuser or pg_checkpoint; False without (the figure says so)."""
    try:
        with autocommit() as conn:
            conn.execute("CHECKPOINT")
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False


# Rounds of each, alternating bare / SDK yardstick / ours, and the medians compared: the machine's load drifts over
# seconds (±15 % between back-to-back runs here), so one long run of each would compare two moments.
ROUND_SECONDS = 5


# The yardstick's webhooks go to a queue of their own that nothing consumes (under the bench's Redis
# namespace, so dropped with it at the end anyway; emptied by the benchmark as soon as it is done).
SDK_QUEUE = "sdk-yardstick"


def _start_sdk_yardstick(env: dict, agents: dict[str, str]):
    """The SDK's receiver under our gunicorn config, knowing the agents' secrets as our web does."""
    secrets_file = bench_env.OUTPUT / "sdk-yardstick-secrets.json"
    bench_env.OUTPUT.mkdir(parents=True, exist_ok=True)
    secrets_file.write_text(json.dumps(agents))
    proc, base = bench_env.start_web({**env, "BENCH_SDK_SECRETS": str(secrets_file), "BENCH_SDK_QUEUE": SDK_QUEUE},
                                     name="web-sdk", app="bench.sdk_receiver_app:create_app()",
                                     # importing the SDK alone took 13 s of CPU, 30-47 s on this busy machine
                                     timeout=300)
    # the Redis list kombu keeps the queue in (its key under the namespace, as global_keyprefix puts it)
    key = env.get("MEDIABUY_REDIS_NAMESPACE", "") + SDK_QUEUE
    return proc, base, redis.Redis.from_url(env["REDIS_URL"]), key


def _middle(values: list[float]) -> float:
    """The median of an odd number of rounds (1 or 3): one of them, so its wrk output goes with it."""
    return sorted(values)[len(values) // 2]


def run(env: dict, quick: bool) -> list[Figure]:
    # --quick: three short rounds of each rather than one of 5 s: with three servers taking turns, one
    # round each was at the mercy of a single moment (ours ÷ yardstick 1.19× in one quick run on the
    # busy machine, 1.97-2.29× in the full runs of the same hour)
    rounds, seconds = (3, 2) if quick else (3, ROUND_SECONDS)
    agents = fixtures.make_agents(20, prefix="iagent")
    agent_ids = list(agents)
    fixtures.make_campaigns(100, 20, agent_ids)
    buys = [(fixtures.agent_of(c, k, 20, agent_ids), fixtures.buy_of(c, k)[1]) for c in range(100) for k in range(20)]
    web, base = bench_env.start_web(env, ready_path="/readyz")
    bare, bare_base = bench_env.start_web(env, name="web-bare", app="bench.bare_app:create_app()")
    warm = load.presign(agents, buys, 200, first_second=1_000_000)
    load.pace(base, warm, 100)  # both servers warm: imports, pools, first connections
    load.pace(bare_base, warm, 100)
    sdk, sdk_base, sdk_redis, sdk_key = _start_sdk_yardstick(env, agents)
    load.pace(sdk_base, warm, 100)

    bare_runs, our_runs, accepted_rates = [], [], []
    sdk_runs, sdk_rates = [], []  # the yardstick's: accepted/s counted as the messages it put in Redis
    core_seconds: Counter = Counter()  # per program, over our rounds only
    our_seconds = 0.0
    for i in range(rounds):
        # every round its own idempotency keys: a key sent again would be a duplicate, not an insert
        presigned = load.presign(agents, buys, 2_500 * seconds, first_second=10 + i * 100_000)
        script, data = load.write_wrk_inputs(presigned, f"ingest-{i}")
        bare_runs.append(load.wrk(bare_base, script, data, seconds))
        queued = sdk_redis.llen(sdk_key)
        sdk_runs.append(load.wrk(sdk_base, script, data, seconds))
        sdk_rates.append((sdk_redis.llen(sdk_key) - queued) / seconds)
        before, snap, started = _events(), cpu.snapshot(), time.monotonic()
        our_runs.append(load.wrk(base, script, data, seconds))
        wall = time.monotonic() - started
        accepted_rates.append((_events() - before) / seconds)
        for group, cores in cpu.cores_by_group(snap, cpu.snapshot(), wall).items():
            core_seconds[group] += cores * wall
        our_seconds += wall
    cores = cpu.summary({group: used / our_seconds for group, used in core_seconds.most_common()})
    accepted, bare_rate = _middle(accepted_rates), _middle([r.rate for r in bare_runs])
    # wrk's latencies and CPU as in the median rounds
    ours = our_runs[accepted_rates.index(accepted)]
    bare_run = bare_runs[[r.rate for r in bare_runs].index(bare_rate)]
    sdk_rate = _middle(sdk_rates)
    sdk_run = sdk_runs[sdk_rates.index(sdk_rate)]
    for i, (b, o, k) in enumerate(zip(bare_runs, our_runs, sdk_runs)):
        (bench_env.OUTPUT / f"wrk-bare-{i}.txt").write_text(b.output)
        (bench_env.OUTPUT / f"wrk-ingest-{i}.txt").write_text(o.output)
        (bench_env.OUTPUT / f"wrk-sdk-{i}.txt").write_text(k.output)
    per_round = "; ".join(f"{a:,.0f} ÷ {b.rate:,.0f}" for a, b in zip(accepted_rates, bare_runs))
    per_round_sdk = "; ".join(f"{a:,.0f} ÷ {k:,.0f}" for a, k in zip(accepted_rates, sdk_rates))
    sdk.stop()
    sdk_redis.delete(sdk_key)  # the yardstick's messages: nothing was ever going to consume them

    half = accepted / 2
    paced_seconds = 5 if quick else 30  # --quick stays under two minutes in all
    paced_requests = load.presign(agents, buys, int(half * paced_seconds), first_second=2_000_000)
    checkpointed = _checkpoint()
    paced = load.pace(base, paced_requests, half)
    p99 = percentile(paced.latencies_ms, 99)
    p50 = percentile(paced.latencies_ms, 50)
    paced_errors = sum(n for status, n in paced.statuses.items() if not 200 <= status < 300)
    web.stop()
    bare.stop()
    return [
        Figure(NAME, f"bare Flask route, same gunicorn config: requests/s (median of {rounds} × {seconds} s)",
               bare_rate, "/s", note=f"wrk -t2 -c16, p99 {bare_run.p99_ms} ms, wrk CPU {bare_run.cpu_share:.2f} core"),
        Figure(NAME, f"signed unique webhooks accepted/s (median of {rounds} × {seconds} s, "
                     "alternating with the bare route and the SDK yardstick)",
               accepted, "/s",
               note=f"wrk p50 {ours.p50_ms} ms p99 {ours.p99_ms} ms, wrk CPU {ours.cpu_share:.2f} core; "
                    f"cores used: {cores}"),
        Figure(NAME, f"SDK yardstick (WebhookReceiver, legacy HMAC, dedup in memory, Celery send_task; not durable), "
                     f"same gunicorn config: accepted/s (median of {rounds} × {seconds} s)",
               sdk_rate, "/s", note=f"wrk p50 {sdk_run.p50_ms} ms p99 {sdk_run.p99_ms} ms, wrk CPU "
                                    f"{sdk_run.cpu_share:.2f} core, non-2xx/socket errors {sum(r.errors for r in sdk_runs)}"),
        Figure(NAME, "accepted/s ÷ SDK yardstick accepted/s (ours durable, it not)",
               accepted / sdk_rate if sdk_rate else None, "×", 1.3, ">=", f"rounds: {per_round_sdk}"),
        # reported, no target: how close to a route that does nothing (0.4 was the target of an earlier issue)
        Figure(NAME, "accepted/s ÷ bare route requests/s", accepted / bare_rate if bare_rate else None,
               "×", note=f"rounds: {per_round}"),
        Figure(NAME, f"p99 at half the maximum rate ({half:.0f}/s, paced open-loop)", p99, "ms", 25, "<=",
               f"p50 {p50:.1f} ms, {paced.sent:,} requests at {paced.achieved_rate:.0f}/s achieved"
               + ("" if checkpointed else "; no CHECKPOINT privilege: PostgreSQL may stall to create WAL segments")),
        Figure(NAME, "errors (socket errors and non-2xx, both runs)",
               float(sum(r.errors for r in our_runs) + paced_errors), "", 0, "<=",
               f"bare route: {sum(r.errors for r in bare_runs)}"),
    ]
