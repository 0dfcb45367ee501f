"""3. Worker throughput: status events applied per second (inbox → media buy → status_changes → rollup)
by one Celery worker of two processes (the Procfile's), the inbox pre-filled.

Side by side in the same run, on the same kind of events: the code as configured (inbox drains: up to
MEDIABUY_INGEST_BATCH_SIZE events per task and transaction; recomputes coalesced per campaign) and the
same code one event per Celery task (the ingest task, which retries and sweeps use) with
MEDIABUY_RECOMPUTE_EVERY_CHANGE=1: one recompute task per applied event, as before batching and coalescing.
And the code as configured once more with RabbitMQ's quorum queues as the broker (MEDIABUY_BROKER_URL),
on the same events, beside the Redis figure: the cost of a broker that survives a node.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

from mediabuy_sync.store.db import transaction

from . import env as bench_env
from . import cpu, fixtures
from .report import Figure

NAME = "workers"
BASELINE = {"MEDIABUY_RECOMPUTE_EVERY_CHANGE": "1"}


def prepare(n_events: int, n_campaigns: int, buys_per_campaign: int,
            agent_ids: list[str] | None = None) -> tuple[list[int], int]:
    """Agents (unless given), campaigns, and `n_events` webhooks in the inbox toggling the buys
    ACTIVE ⇄ PAUSED, each newer than the last; returns (event ids, number of buys)."""
    agent_ids = agent_ids or list(fixtures.make_agents(20, prefix="wagent"))
    fixtures.make_campaigns(n_campaigns, buys_per_campaign, agent_ids)
    return status_events(n_events, n_campaigns, buys_per_campaign, agent_ids), n_campaigns * buys_per_campaign


def status_events(n_events: int, n_campaigns: int, buys_per_campaign: int, agent_ids: list[str]) -> list[int]:
    """`n_events` webhooks into the inbox toggling the campaigns' buys (made by prepare); their ids."""
    n_buys = n_campaigns * buys_per_campaign
    rows = []
    for j in range(n_events):
        c, k = divmod(j % n_buys, buys_per_campaign)
        toggle = (j // n_buys) % 2 == 0  # first pass: ACTIVE → PAUSED, then back, …
        rows.append((fixtures.agent_of(c, k, buys_per_campaign, agent_ids),
                     fixtures.status_webhook(fixtures.buy_of(c, k)[1], "paused" if toggle else "active", 10 + j)))
    return fixtures.insert_events(rows)


def drain(event_ids: list[int], name: str, timeout: float, one_by_one: bool = False, send=None,
          campaign_ids: list[str] | None = None) -> dict:
    """Have a running worker apply the events (a drain, or one task each); wait until every one is
    processed and no rollup is owed. The rate is taken from PostgreSQL's own clock: first event
    processed to last commit (the last rollup of `campaign_ids`, the events' campaigns, when other
    campaigns change meanwhile; of any campaign when not given)."""
    before, started = cpu.others_apart(cpu.snapshot()), time.monotonic()
    if send is not None:  # a drain through another broker (drain_on_rabbitmq)
        send()
    elif one_by_one:
        fixtures.enqueue_each(event_ids)
    else:
        fixtures.request_drain()
    bench_env.wait_until(lambda: _left(event_ids) == 0, timeout, 0.25, what=f"{name}: events processed")
    bench_env.wait_until(lambda: _owed() == 0, 60, 0.1, what=f"{name}: rollups done")
    cores = cpu.cores_by_group(before, cpu.others_apart(cpu.snapshot()), time.monotonic() - started)
    with transaction() as conn:
        row = conn.execute(
            """SELECT extract(epoch FROM max(processed_at) - min(processed_at)) AS events_span,
                      min(processed_at) AS first, count(*) AS processed
               FROM webhook_events WHERE id = ANY(%(ids)s)""", {"ids": event_ids}).fetchone()
        last_rollup = conn.execute(
            "SELECT extract(epoch FROM max(rollup_at) - %(first)s) AS span FROM campaigns "
            "WHERE %(campaigns)s::text[] IS NULL OR id = ANY(%(campaigns)s)",
            {"first": row["first"], "campaigns": campaign_ids}).fetchone()["span"]
        outcomes = {r["outcome"]: r["n"] for r in conn.execute(
            "SELECT outcome, count(*) AS n FROM webhook_events WHERE id = ANY(%(ids)s) GROUP BY outcome",
            {"ids": event_ids})}
        recomputes = conn.execute("SELECT sum(rollups) AS n FROM campaigns").fetchone()["n"]
    span = max(float(row["events_span"] or 0), float(last_rollup or 0))
    return {"rate": len(event_ids) / span if span else None, "span": span, "outcomes": outcomes,
            "recomputes": int(recomputes or 0), "cores": cpu.summary(cores)}


def _left(event_ids: list[int]) -> int:
    with transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM webhook_events WHERE id = ANY(%(ids)s) AND state = 'received'",
                            {"ids": event_ids}).fetchone()["n"]


def _owed() -> int:
    with transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM campaigns WHERE rollup_version < status_version").fetchone()["n"]


def _replayable(event_ids: list[int], campaign_ids: list[str] | None = None) -> None:
    """Put processed events back in the inbox and the buys back as they were, for another run (only the
    buys of `campaign_ids` when given: other campaigns' buys are left as they are, and unbloated)."""
    with transaction() as conn:
        conn.execute("UPDATE webhook_events SET state = 'received', processed_at = NULL, outcome = NULL, attempts = 0 "
                     "WHERE id = ANY(%(ids)s)", {"ids": event_ids})
        conn.execute("UPDATE media_buys SET status = 'ACTIVE', adcp_status = 'active', status_as_of = %(t0)s "
                     "WHERE %(campaigns)s::text[] IS NULL OR campaign_id = ANY(%(campaigns)s)",
                     {"t0": fixtures.T0, "campaigns": campaign_ids})
        conn.execute("DELETE FROM status_changes")
        conn.execute("UPDATE campaigns SET rollups = 0")


def _reset_recompute_counters() -> None:
    with transaction() as conn:
        conn.execute("UPDATE campaigns SET rollups = 0")


def run(env: dict, quick: bool) -> list[Figure]:
    n_events = 4_000 if quick else 20_000
    # 100 campaigns of 20 buys: many campaigns at once, as a platform sees them
    events, n_buys = prepare(n_events, 100, 20)
    # the baseline on the first quarter of the events (it is slow), then the code as configured on all
    baseline_ids, batched_ids = events[: n_events // 4], events
    _reset_recompute_counters()
    baseline_worker = bench_env.start_worker({**env, **BASELINE}, name="worker-baseline")
    try:
        base = drain(baseline_ids, "baseline", 600, one_by_one=True)
    finally:
        baseline_worker.stop()
    # the baseline processed the first quarter: put those back so both runs apply the same kind of work
    _replayable(baseline_ids)
    bench_env.shared_worker(env)
    batched = drain(batched_ids, "as configured", 600)
    ratio = batched["rate"] / base["rate"] if base["rate"] and batched["rate"] else None
    # the same events again, the same worker line, with RabbitMQ's quorum queues as the broker:
    # alternated with Redis over two rounds (the shared machine's speed drifts within a minute), each
    # broker's best round compared
    rounds = {"redis": [batched], "rabbitmq": []}
    with rabbitmq_sender(env) as send_on_rabbitmq:
        for broker in ("rabbitmq", "redis", "rabbitmq"):
            _replayable(batched_ids)
            rounds[broker].append(drain(batched_ids, broker, 600,
                                        send=send_on_rabbitmq if broker == "rabbitmq" else None))
    best_redis, rabbit = (max(rounds[b], key=lambda r: r["rate"] or 0) for b in ("redis", "rabbitmq"))
    rabbit_ratio = rabbit["rate"] / best_redis["rate"] if rabbit["rate"] and best_redis["rate"] else None
    each = {b: ", ".join(f"{r['rate']:,.0f}" for r in rounds[b]) for b in rounds}
    scaling = []
    if not quick:  # how the rate grows with worker processes: the same code with one
        _replayable(baseline_ids)
        bench_env.stop_all()  # the shared worker too: one process alone
        single = bench_env.start_worker(env, name="worker-one-process", concurrency=1)
        try:
            one = drain(baseline_ids, "one process", 600)
        finally:
            single.stop()
        scaling.append(Figure(NAME, "status events applied/s, 1 worker process (same run)", one["rate"], "/s",
                              note=f"2 processes ÷ 1: {batched['rate'] / one['rate']:.2f}×"))
    return scaling + [
        Figure(NAME, "status events applied/s, 2 worker processes", batched["rate"], "/s", 1000, ">=",
               f"{n_events:,} events over {n_buys:,} buys of 100 campaigns in {batched['span']:.1f} s; "
               f"{batched['recomputes']:,} recomputes; cores used: {batched['cores']}"),
        Figure(NAME, "same code, one event per task, one recompute per event (same run)", base["rate"], "/s",
               note=f"{len(baseline_ids):,} events in {base['span']:.1f} s; {base['recomputes']:,} recomputes"),
        Figure(NAME, "as configured ÷ one event per task and recompute", ratio, "×", 2.0, ">="),
        Figure(NAME, "status events applied/s, 2 worker processes, RabbitMQ quorum queues (same run, best of 2)",
               rabbit["rate"], "/s", note=f"rounds: {each['rabbitmq']} /s; {n_events:,} events in {rabbit['span']:.1f} s; "
                                         f"{rabbit['recomputes']:,} recomputes; cores used: {rabbit['cores']}"),
        Figure(NAME, "RabbitMQ ÷ Redis as the broker, status events applied/s (best round of each)", rabbit_ratio, "×",
               note=f"Redis rounds: {each['redis']} /s; RabbitMQ with publisher confirms, Redis without persistence"),
    ]


@contextmanager
def rabbitmq_sender(env: dict):
    """A worker of the Procfile's line with MEDIABUY_BROKER_URL on a vhost of this run's own (the local
    RabbitMQ, started if need be; the vhost deleted at the end), and a function that asks it for a
    drain as the web does. Redis keeps the drain key, as it does in production."""
    from mediabuy_sync.config import settings
    from mediabuy_sync.devtools import rabbitmq
    from mediabuy_sync.queue import coalesce
    from mediabuy_sync.queue.app import make_celery

    vhost = f"mbbench-{bench_env.RUN_ID}"
    url = rabbitmq.create_vhost(rabbitmq.rabbitmq_server(), vhost)
    worker = None
    try:
        worker = bench_env.start_worker({**env, "MEDIABUY_BROKER_URL": url}, name="worker-rabbitmq")
        saved = os.environ.get("MEDIABUY_BROKER_URL")
        os.environ["MEDIABUY_BROKER_URL"] = url  # this process's sender, made as the web's is
        settings.cache_clear()
        try:
            app = make_celery(fail_fast=True)
        finally:
            os.environ.pop("MEDIABUY_BROKER_URL") if saved is None else os.environ.update(MEDIABUY_BROKER_URL=saved)
            settings.cache_clear()

        def send() -> None:
            coalesce.release_drain()  # the other broker's drain key, were it left behind
            coalesce.request_drain(app)

        yield send
    finally:
        if worker is not None:
            worker.stop()
        rabbitmq.delete_vhost(vhost)
