"""The broker cut with RabbitMQ as the broker: test_process_faults.py's Redis stop, the same stream and
pacing, on the fault stack with MEDIABUY_BROKER_URL (tests/faults/conftest.py rabbit_fault_stack) —
RabbitMQ behind a proxy the test cuts, Redis (the coalescing keys, drain requests) still answering.

What has to hold is what holds with Redis: the web never fails a webhook for the broker's sake (its
publish fails fast; the inbox watch and sweeper enqueue what it could not), nothing is lost, nothing
is applied twice, and the backlog is processed soon after the broker returns.
"""

from __future__ import annotations

import time

from support.rabbit import list_queues
from support.stack import wait_until
from support.stream import CAMPAIGNS, build_stream, check_ledger, report, send_in_background, wait_processed, wait_settled


def test_rabbitmq_cut_for_30_seconds_the_web_still_accepts_and_all_is_processed_within_a_minute(rabbit_fault_stack):
    stack = rabbit_fault_stack
    assert set(list_queues(stack["vhost"])) >= {"ingest", "agents", "interactive"}  # the worker is on RabbitMQ
    stream = build_stream(stack["base_url"], seed=25, campaigns=CAMPAIGNS)
    total = len(stream.events)
    # a paced sender (about 50 s for 1,000 events) so that the stream spans the outage, on both sides
    sender, answers = send_in_background(stream.events, order="interleaved", seed=5, rate=total / 50)
    wait_until(lambda: answers.count() >= int(total * 0.15), 120, 0.1, "15% of the events answered")
    stack["broker"].cut()
    cut_at = answers.count()
    time.sleep(30)
    during = answers.count() - cut_at
    stack["broker"].restore()
    backlog = answers.accepted()  # everything accepted before and during the outage
    # the deadline is twice the minute the test's name says: the worker reconnects on its own backoff
    # and this machine is shared; the figure printed is the time it took
    caught_up = wait_processed(stream, backlog, timeout=120)
    sender.join()
    waited = wait_settled(stream, answers)
    figures = check_ledger(stream, answers)  # nothing lost, nothing applied twice
    figures.update(accepted_during_outage=during, backlog_at_restore=len(backlog),
                   backlog_processed_within_s_of_restore=round(caught_up, 1), settled_after_last_answer_s=round(waited, 1))
    report("rabbitmq cut 30 s", figures)
    assert during > 0, "no event was answered while RabbitMQ was cut"
    assert set(figures["answers"]) == {"202"}, figures["answers"]  # never an error, never a timeout
    assert figures["accepted"] == total
    # the worker lived through it: it reconnected rather than exiting
    assert stack["worker"].popen.poll() is None, stack["worker"].log()[-3000:]
