"""Processes die and services stop under a stream of 1,000+ signed webhooks; the ledger is checked after.

Everything here runs on the fault stack (tests/faults/conftest.py): a web, worker and beat of their
own whose PostgreSQL and Redis connections go through proxies, with the session's worker and beat
paused, so nothing heals behind the test's back.
"""

from __future__ import annotations

import signal
import time

from support.stack import start_beat, start_worker, wait_until
from support.stream import (
    CAMPAIGNS, broker_cut, build_stream, check_ledger, kill_pool_children, query, report, send, send_in_background,
    wait_settled,
)


def _after(answers, n: int, timeout: float = 120.0) -> None:
    wait_until(lambda: answers.count() >= n, timeout, 0.1, f"{n} events answered")


def _periodic_runs() -> dict[str, int]:
    return {r["name"]: r["runs"] for r in query("SELECT name, runs FROM periodic_jobs")}


def test_two_workers_and_two_beats_lose_no_update_and_run_each_job_once_per_period(fault_stack):
    """Scenarios 5 and 6: few campaigns with many buys, so both workers apply events of the same
    campaign at once; a second beat sends every periodic job too."""
    second_worker = start_worker(fault_stack["env"], name="worker-faults-2")
    fault_stack["started"].append(second_worker)
    second_beat = start_beat(fault_stack["env"], name="beat-faults-2")
    fault_stack["started"].append(second_beat)
    fault_stack["workers"] = [fault_stack["worker"], second_worker]

    stream = build_stream(fault_stack["base_url"], seed=20, campaigns=CAMPAIGNS // 5, buys_per_campaign=20)
    runs_before, started = _periodic_runs(), time.monotonic()
    answers = send(stream.events, order="shuffled", seed=0)
    waited = wait_settled(stream, answers, timeout=240)
    elapsed, runs_after = time.monotonic() - started, _periodic_runs()
    figures = check_ledger(stream, answers)
    ran = {job: runs_after.get(job, 0) - runs_before.get(job, 0) for job in runs_after}
    sent = second_beat.log().count("Sending due task")
    figures.update(settled_after_last_answer_s=round(waited, 1), seconds=round(elapsed, 1), periodic_runs=ran, second_beat_sent=sent)
    report("two workers, two beats", figures)
    assert figures["accepted"] == len(stream.events)
    for proc in fault_stack["workers"]:  # both took part
        assert "mediabuy_sync.drain_inbox" in proc.log() and "succeeded" in proc.log(), proc.name
    # every job's period is 1 s here; both beats send each job every second, yet it runs once a period
    assert sent >= elapsed, sent  # the second beat did send its share (5 jobs a second)
    for job, n in ran.items():
        assert n <= elapsed + 2, (job, n, elapsed)


def test_workers_killed_mid_stream_lose_nothing_and_apply_nothing_twice(fault_stack):
    """Scenario 1: the pool processes of a worker are SIGKILLed twice, then the whole worker."""
    stream = build_stream(fault_stack["base_url"], seed=21, campaigns=CAMPAIGNS)
    total = len(stream.events)
    sender, answers = send_in_background(stream.events, order="shuffled", seed=1)
    victim, survivor = fault_stack["workers"]

    killed = 0
    for share in (0.2, 0.4):  # the pool's processes, twice: their tasks are rejected and redelivered
        _after(answers, int(total * share))
        killed += kill_pool_children(victim)
    _after(answers, int(total * 0.6))
    # the whole worker once: what it held unacked is healed by the inbox and rollup sweepers
    victim.stop(sig=signal.SIGKILL)
    fault_stack["workers"] = [survivor]
    sender.join()

    waited = wait_settled(stream, answers, timeout=240)
    figures = check_ledger(stream, answers)
    figures.update(pool_processes_killed=killed, workers_killed=1, settled_after_last_answer_s=round(waited, 1))
    report("workers killed", figures)
    assert figures["accepted"] == total  # nothing was refused: the web never depended on the worker


def test_redis_stopped_for_30_seconds_the_web_still_accepts_and_all_is_processed_within_a_minute(fault_stack):
    broker_cut(fault_stack["base_url"], fault_stack["redis"], seed=22, sender_seed=2, name="redis stopped 30 s",
               broker="Redis")


def test_postgres_stopped_the_web_answers_503_never_2xx_and_resumes_without_restart(fault_stack):
    stream = build_stream(fault_stack["base_url"], seed=23, campaigns=CAMPAIGNS)
    total = len(stream.events)
    web_pid = fault_stack["web"].popen.pid
    sender, answers = send_in_background(stream.events, order="shuffled", seed=3, threads=4)
    _after(answers, int(total * 0.2))
    fault_stack["pg"].cut()
    wait_until(lambda: answers.all_codes().get(503, 0) >= 20, 60, 0.1, "the web to answer 503")
    time.sleep(5)
    fault_stack["pg"].restore()
    sender.join()
    waited = wait_settled(stream, answers, timeout=240)
    figures = check_ledger(stream, answers)  # every 2xx committed and processed once, the retries deduplicated
    figures["settled_after_last_answer_s"] = round(waited, 1)
    report("postgres stopped", figures)
    assert figures["answers"].get("503", 0) >= 20
    assert answers.unavailable_without_retry_after == 0
    assert figures["accepted"] == total  # every event got through on a retry
    assert fault_stack["web"].popen.pid == web_pid and fault_stack["web"].popen.poll() is None  # no restart
