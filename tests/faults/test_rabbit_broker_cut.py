"""The broker cut with RabbitMQ as the broker: test_process_faults.py's Redis stop, the same stream and
pacing, on the fault stack with MEDIABUY_BROKER_URL (tests/faults/conftest.py rabbit_fault_stack) —
RabbitMQ behind a proxy the test cuts, Redis (the coalescing keys, drain requests) still answering.

What has to hold is what holds with Redis: the web never fails a webhook for the broker's sake (its
publish fails fast; the inbox watch and sweeper enqueue what it could not), nothing is lost, nothing
is applied twice, and the backlog is processed soon after the broker returns.
"""

from __future__ import annotations

from support.rabbit import list_queues
from support.stream import broker_cut


def test_rabbitmq_cut_for_30_seconds_the_web_still_accepts_and_all_is_processed_within_a_minute(rabbit_fault_stack):
    stack = rabbit_fault_stack
    assert set(list_queues(stack["vhost"])) >= {"ingest", "agents", "interactive"}  # the worker is on RabbitMQ
    broker_cut(stack["base_url"], stack["broker"], seed=25, sender_seed=5, name="rabbitmq cut 30 s",
               broker="RabbitMQ")
    # the worker lived through it: it reconnected rather than exiting
    assert stack["worker"].popen.poll() is None, stack["worker"].log()[-3000:]
