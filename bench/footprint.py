"""7. Footprint: a cold web (gunicorn as the Procfile runs it) to a ready /readyz, its workers' memory
after serving webhooks; a cold ingest worker (no ADCP SDK: queues by kind) to ready, and its memory
after draining those webhooks; a cold Celery worker (the ADCP SDK loaded before the pool forks) to ready,
and the memory of its parent and pool processes (--quick: the worker the other benchmarks shared,
its own cold start, so that the quick run starts the ADCP SDK twice, not three times)."""

from __future__ import annotations

import time

import requests

from . import env as bench_env
from . import fixtures
from .report import Figure

NAME = "footprint"


def run(env: dict, quick: bool) -> list[Figure]:
    figures = []
    [(agent_id, secret)] = fixtures.make_agents(1, prefix="fagent").items()
    fixtures.make_campaigns(1, 10, [agent_id])
    ingest = bench_env.start_worker(env, name="worker-ingest-cold", line="worker-ingest")
    started = time.monotonic()
    web, base = bench_env.start_web(env, ready_path="/readyz", timeout=120)
    ready_in = time.monotonic() - started
    # serve some webhooks so the workers have touched every module on the path
    session = requests.Session()
    for j in range(100):
        body = fixtures.status_webhook(f"sa_0_{j % 10}", "paused" if j % 2 else "active", 10 + j)
        session.post(f"{base}/webhooks/adcp/{agent_id}", data=body,
                     headers=fixtures.signed(secret, body, int(time.time())), timeout=10).raise_for_status()
    workers = bench_env.children(web.pid)
    rss = [bench_env.memory_mb(pid)["rss"] for pid in workers]
    figures.append(Figure(NAME, "web: cold start to a ready /readyz", ready_in, "s", 3.0, "<="))
    figures.append(Figure(NAME, "web: resident memory of a gunicorn worker (largest)", max(rss), "MB", 120, "<=",
                          f"{len(rss)} workers: " + ", ".join(f"{r:.0f}" for r in rss) + " MB; master "
                          f"{bench_env.memory_mb(web.pid)['rss']:.0f} MB"))
    web.stop()
    parent = bench_env.memory_mb(ingest.pid)["rss"]
    pool = [bench_env.memory_mb(pid)["rss"] for pid in bench_env.children(ingest.pid)]
    figures.append(Figure(NAME, "ingest worker (no ADCP SDK): cold start to ready", ingest.ready_seconds, "s", 3.0,
                          "<="))
    figures.append(Figure(NAME, "ingest worker: resident memory of its largest process", max([parent, *pool]), "MB",
                          120, "<=", f"parent {parent:.0f} MB, pool " + ", ".join(f"{r:.0f}" for r in pool)
                          + " MB, after draining the webhooks above"))
    ingest.stop()
    shared = bench_env.running_shared_worker() if quick else None
    worker = shared or bench_env.start_worker(env, name="worker-cold")
    which = "--quick: the shared worker, started cold earlier in this run and since used; " if shared else ""
    parent = bench_env.memory_mb(worker.pid)
    pool = [bench_env.memory_mb(pid) for pid in bench_env.children(worker.pid)]
    pss = parent["pss"] + sum(p["pss"] for p in pool)
    figures.append(Figure(NAME, "worker (ADCP SDK loaded): cold start to ready", worker.ready_seconds, "s",
                          note=which.rstrip("; ")))
    figures.append(Figure(NAME, "worker: PSS of parent + pool processes", pss, "MB",
                          note=f"{which}RSS parent {parent['rss']:.0f} MB, pool "
                               + ", ".join(f"{p['rss']:.0f}" for p in pool) + " MB"))
    if not shared:
        worker.stop()
    return figures
