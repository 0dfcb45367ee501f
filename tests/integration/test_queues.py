"""Queues by kind: each task waits in its queue (ingest, agents, interactive), the senders a request
waits on put theirs in the interactive queue, and a worker of the ingest queue starts without the ADCP
SDK and takes nothing else — through a real Redis and the Procfile's own worker lines."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import redis

from mediabuy_sync.devtools import processes as devprocs
from mediabuy_sync.queue.names import (
    AGENTS_QUEUE, INGEST_QUEUE, INTERACTIVE_QUEUE, PURGE_NONCES, QUEUES, ROUTES, RUN_CASCADE_AGENT, RUN_SYNC,
    queue_keys,
)
from support.sender_app import sender_app
from support.stack import Process, free_ports, wait_until


def _waiting(env: dict[str, str]) -> dict[str, int]:
    r = redis.Redis.from_url(env["REDIS_URL"])
    namespace = env["MEDIABUY_REDIS_NAMESPACE"]
    return {queue: sum(r.llen(namespace + key) for key in queue_keys(queue)) for queue in QUEUES}


@pytest.fixture
def own_namespace(stack):
    """A broker namespace of this test's own: no other worker takes what is sent to it."""
    (metrics_port,) = free_ports(1)
    return {**stack["env"], "MEDIABUY_REDIS_NAMESPACE": f"mbtest-queues-{uuid.uuid4().hex[:8]}:",
            "MEDIABUY_WORKER_METRICS_PORT": str(metrics_port)}


def test_each_task_waits_in_its_queue_and_a_waited_for_one_in_the_interactive_queue(own_namespace, monkeypatch):
    app = sender_app(monkeypatch, MEDIABUY_REDIS_NAMESPACE=own_namespace["MEDIABUY_REDIS_NAMESPACE"])
    for name in ROUTES:
        app.send_task(name)
    app.send_task(RUN_CASCADE_AGENT, args=[1, "agent"], queue=INTERACTIVE_QUEUE)
    app.send_task(RUN_SYNC, args=[1], queue=INTERACTIVE_QUEUE)
    expected = {queue: list(ROUTES.values()).count(queue) for queue in QUEUES}
    expected[INTERACTIVE_QUEUE] += 2
    assert _waiting(own_namespace) == expected
    assert expected[INGEST_QUEUE] >= 8 and expected[AGENTS_QUEUE] >= 6


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_an_ingest_worker_starts_without_the_sdk_and_takes_only_ingest_tasks(own_namespace, monkeypatch):
    proc = Process("worker-ingest-only", devprocs.procfile_argv("worker-ingest"), own_namespace)
    try:
        ready = wait_until(lambda: " ready." in proc.log() and proc.log() or proc.popen.poll() is not None, 120,
                           what="the ingest worker ready")
        assert proc.popen.poll() is None, proc.log()[-3000:]
        ready_s = time.monotonic() - proc.started_at
        assert "worker for queues ingest: the ADCP SDK is not loaded" in ready
        app = sender_app(monkeypatch, MEDIABUY_REDIS_NAMESPACE=own_namespace["MEDIABUY_REDIS_NAMESPACE"])
        app.send_task(PURGE_NONCES)  # ingest: taken
        app.send_task(RUN_SYNC, args=[0])  # agents: left for an agents worker
        app.send_task(RUN_CASCADE_AGENT, args=[0, "agent"], queue=INTERACTIVE_QUEUE)  # likewise
        wait_until(lambda: f"Task {PURGE_NONCES}[" in proc.log() and " succeeded" in proc.log(), 30,
                   what="the ingest task run")
        assert _waiting(own_namespace) == {INGEST_QUEUE: 0, AGENTS_QUEUE: 1, INTERACTIVE_QUEUE: 1}
        assert RUN_SYNC not in proc.log() and RUN_CASCADE_AGENT not in proc.log()
        rss = _rss_mb(proc.popen.pid)
        print(f"[queues] ingest worker parent RSS {rss:.0f} MB, ready {ready_s:.1f} s after start")
        # Without the SDK the parent holds Celery, psycopg and our code only; with it, ~560 MB more.
        assert rss < 200, rss
    finally:
        proc.stop()
