"""Asking for a re-sync or a live status query: a sync_runs row, then a task. Light: the web uses it."""

from __future__ import annotations

import time

from .store import sync_runs


def request(kind: str, target_id: str, source: str, publisher) -> int:
    """Create the run and enqueue it; returns the run id. `publisher` is a Celery app."""
    from .worker.app import RUN_SYNC

    run_id = sync_runs.create(kind, target_id, source)
    publisher.send_task(RUN_SYNC, args=[run_id])
    return run_id


def wait(run_id: int, timeout: float, interval: float = 0.1) -> dict:
    """The run once it is over, or as it stands when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        run = sync_runs.get(run_id)
        if run is None or run["state"] in ("done", "failed") or time.monotonic() >= deadline:
            return run
        time.sleep(interval)
