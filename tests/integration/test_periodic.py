"""Two beat processes: each periodic job still runs once per period (claimed in PostgreSQL)."""

from __future__ import annotations

import secrets
import time

from mediabuy_sync.store.db import transaction
from mediabuy_sync.store.periodic import claim_turn


def claim(name: str, interval: float) -> bool:
    with transaction() as conn:
        return claim_turn(conn, name, interval)


def test_a_second_beat_in_the_same_period_does_not_run_the_job(database):
    job = "job_" + secrets.token_hex(4)
    assert claim(job, 1.0) is True  # beat A
    assert claim(job, 1.0) is False  # beat B, 0.x s later: same period
    time.sleep(0.85)
    assert claim(job, 1.0) is True  # the next period


def test_two_beats_half_a_period_apart_run_the_job_once_per_period(database):
    job = "job_" + secrets.token_hex(4)
    interval, runs = 0.4, 0
    start = time.monotonic()
    # beat A ticks at 0, 0.4, 0.8 …; beat B at 0.2, 0.6, 1.0 …
    for tick in range(12):
        time.sleep(max(0.0, start + tick * interval / 2 - time.monotonic()))
        runs += claim(job, interval)
    assert runs == 6, runs


def test_the_real_beat_sweeps_run_once_per_period_with_two_beats(stack, db):
    from support.stack import start_beat

    def runs():
        rows = db("SELECT runs FROM periodic_jobs WHERE name = 'mediabuy_sync.sweep_inbox'")
        return rows[0]["runs"] if rows else 0

    second = start_beat(stack["env"], name="beat-2")
    try:
        time.sleep(1.5)  # both beats are ticking
        before, started = runs(), time.monotonic()
        time.sleep(6)
        ran, elapsed = runs() - before, time.monotonic() - started
        sent = (second.log() + stack["beat"].log()).count("Sending due task sweep-inbox")
    finally:
        second.stop()
    # each beat sends the sweep every second (period 1 s here): about twice as many sends as periods,
    # but the job runs about once per period
    assert sent >= 10
    assert elapsed - 2 <= ran <= elapsed + 1, (ran, elapsed)
