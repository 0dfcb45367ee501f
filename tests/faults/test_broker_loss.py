"""Redis comes back empty (a crash without persistence, a failover): the queued drains are gone, yet
the backlog the web accepted meanwhile is processed within seconds, none lost or applied twice.

The sweeper alone heals this only once events are MEDIABUY_INBOX_STALE_AFTER_SECONDS old, ~1,000 a
period: 93–117 s for 3,000 events at production settings (issue 18). The inbox watch (services/inbox.py,
every MEDIABUY_INBOX_WATCH_INTERVAL_SECONDS) sees events waiting with no drain queued and queues one.
So this module's worker and beat run the sweeper at production settings: nothing else could heal the
backlog within the issue's target of 15 s.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import redis as redis_client

from support.stack import start_beat, start_worker, wait_until
from support.stream import build_stream, check_ledger, report, send, wait_processed, wait_settled

# production's sweeper, not the test session's (2 s stale, every 1 s)
PRODUCTION_SWEEPER = {"MEDIABUY_INBOX_STALE_AFTER_SECONDS": "60", "MEDIABUY_INBOX_SWEEP_INTERVAL_SECONDS": "30"}
# Issue 18's target: a backlog of 3,000 processed within 15 s of the broker's return. That holds on a
# quiet machine (workers apply ~1,700 events/s: docs/performance.md), and is the figure printed; what
# is asserted is what the watch decides — its drain within seconds of the return — and a bound the
# sweeper alone cannot meet at production settings (60 s stale + a 30 s period), since this machine
# is shared and a busy hour slows the applying of 3,000 events tenfold.
TARGET_SECONDS = 15
WATCH_WITHIN_SECONDS = 10
SWEEPER_ALONE_AT_LEAST_SECONDS = 60


def _forget_everything(redis_url: str, namespace: str) -> int:
    """What a Redis restarted without its data shows this deployment: none of its keys (the queue, the
    unacked set, the drain and recompute keys, kombu's bindings). Other runs' keys are left alone."""
    r = redis_client.Redis.from_url(redis_url)
    names = list(r.scan_iter(match=namespace + "*", count=1000))
    if names:
        r.delete(*names)
    return len(names)


def _first_after(log: str, needle: str, since: float) -> float | None:
    """Seconds from `since` (a time.time()) to the first line of a JSON log holding `needle` after it."""
    for line in log.splitlines():
        if needle not in line or not line.startswith("{"):
            continue
        at = datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00")).timestamp()
        if at >= since:
            return round(at - since, 1)
    return None


def test_redis_back_empty_the_backlog_is_processed_within_seconds_none_lost_or_doubled(fault_stack):
    env = {**fault_stack["env"], **PRODUCTION_SWEEPER}
    for proc in (fault_stack["worker"], fault_stack["beat"]):
        proc.stop(timeout=10)
    fault_stack["worker"] = start_worker(env, name="worker-broker-loss")
    fault_stack["beat"] = start_beat(env, name="beat-broker-loss")
    fault_stack["started"] += [fault_stack["worker"], fault_stack["beat"]]

    # 150 campaigns x 4 buys x 5 events = 3,000 events, all sent while Redis is down: the web commits
    # each (202) and its drain requests fail fast; then Redis returns with nothing in it.
    stream = build_stream(fault_stack["base_url"], seed=24, campaigns=150)
    total = len(stream.events)
    fault_stack["redis"].cut()
    answers = send(stream.events, order="interleaved", seed=4)
    backlog = answers.accepted()
    forgotten = _forget_everything(fault_stack["stack_redis_url"], env["MEDIABUY_REDIS_NAMESPACE"])
    fault_stack["redis"].restore()
    restored_at = time.time()
    caught_up = wait_processed(stream, backlog, timeout=180)
    waited = wait_settled(stream, answers, timeout=120)

    figures = check_ledger(stream, answers)  # each accepted event processed once, final statuses exact
    worker_log = fault_stack["worker"].log()
    figures.update(backlog_at_restore=len(backlog), redis_keys_forgotten=forgotten,
                   backlog_processed_within_s_of_restore=round(caught_up, 1),
                   settled_after_last_answer_s=round(waited, 1),
                   drains_queued_by_the_watch=worker_log.count("with no drain queued"),
                   worker_reconnected_s_after_restore=_first_after(worker_log, "Connected to", restored_at),
                   watch_drain_s_after_restore=_first_after(worker_log, "with no drain queued", restored_at),
                   target_s=TARGET_SECONDS)
    report("redis back empty", figures)
    assert figures["accepted"] == total and len(backlog) == total
    assert set(figures["answers"]) == {"202"}, figures["answers"]
    # the watch, not a webhook or the sweeper, healed it, within seconds of Redis's return
    assert figures["watch_drain_s_after_restore"] is not None, figures
    assert figures["watch_drain_s_after_restore"] <= WATCH_WITHIN_SECONDS, figures
    assert "inbox sweep re-enqueued" not in worker_log
    assert caught_up < SWEEPER_ALONE_AT_LEAST_SECONDS, figures


def test_no_drain_is_queued_while_the_inbox_is_empty(fault_stack):
    """The watch costs a quiet deployment nothing: with nothing waiting it queues no drain."""
    before = fault_stack["worker"].log().count("with no drain queued")
    sent = fault_stack["beat"].log().count("Sending due task watch-inbox")
    wait_until(lambda: fault_stack["beat"].log().count("Sending due task watch-inbox") >= sent + 3, 30, 0.2,
               "three more inbox watches")
    time.sleep(1)  # the last watch sent has run
    assert fault_stack["worker"].log().count("with no drain queued") == before
