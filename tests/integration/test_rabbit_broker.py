"""RabbitMQ as the broker (MEDIABUY_BROKER_URL): a web, worker and beat of their own on a vhost of this
run's, Redis still for the coalescing keys — webhooks are applied, the queues are durable quorum queues,
a countdown waits in RabbitMQ rather than in a worker, and /metrics reads the queue depths from RabbitMQ.

The session's worker and beat (on Redis) are paused meanwhile: nothing they do can make these pass.
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest
import requests

from mediabuy_sync.queue.names import INGEST_QUEUE, QUEUES, SWEEP_INBOX
from support.rabbit import list_queues, vhost
from support.sender_app import sender_app
from support.stack import pause_between_transactions, signal_group, start_beat, start_web, start_worker, wait_until
from support.stream import build_stream, check_ledger, send, wait_settled


@pytest.fixture(scope="module")
def rabbit_stack(stack):
    with vhost("it") as (url, name):
        env = {**stack["env"], "MEDIABUY_BROKER_URL": url}
        paused = [stack["worker"], stack["beat"]]
        pause_between_transactions(paused, stack["env"]["DATABASE_URL"])
        started = []
        try:
            worker = start_worker(env, name="worker-rabbit")
            started.append(worker)
            started.append(start_beat(env, name="beat-rabbit"))
            web, base_url = start_web(env, name="web-rabbit")
            started.append(web)
            yield {"env": env, "url": url, "vhost": name, "worker": worker, "web": web, "base_url": base_url}
        finally:
            for proc in started:
                proc.stop(timeout=5)
            for proc in paused:
                signal_group(proc, signal.SIGCONT)


def test_webhooks_through_rabbitmq_are_all_applied_once(rabbit_stack):
    stream = build_stream(rabbit_stack["base_url"], seed=180, campaigns=10)
    answers = send(stream.events, order="shuffled", seed=0)
    wait_settled(stream, answers, timeout=120)
    figures = check_ledger(stream, answers)  # every accepted event applied once, the buys' last status right
    assert figures["accepted"] == len(stream.events)
    assert "mediabuy_sync.drain_inbox" in rabbit_stack["worker"].log()


def test_the_queues_are_durable_quorum_queues_and_the_worker_uses_no_global_qos(rabbit_stack):
    queues = list_queues(rabbit_stack["vhost"])
    for queue in QUEUES:
        assert queues[queue]["type"] == "quorum", queues
        assert queues[queue]["durable"] is True, queues
    # Celery's delayed delivery (for countdowns) is set up, on quorum queues too
    assert queues["celery_delayed_0"]["type"] == "quorum", sorted(queues)
    assert "Global QoS is disabled" in rabbit_stack["worker"].log()


def test_a_countdown_waits_in_rabbitmq_not_in_a_worker(rabbit_stack, monkeypatch):
    """With a direct exchange Celery would hand the task to the worker at once, which holds it until
    its time; through the topic exchanges it reaches the worker only when due."""
    app = sender_app(monkeypatch, MEDIABUY_BROKER_URL=rabbit_stack["url"])
    task_id = str(uuid.uuid4())
    sent_at = time.monotonic()
    app.send_task(SWEEP_INBOX, task_id=task_id, countdown=4)
    time.sleep(2)
    assert task_id not in rabbit_stack["worker"].log(), "the worker received the task before its countdown"
    wait_until(lambda: f"{task_id}] succeeded" in rabbit_stack["worker"].log(), 30, 0.2, "the delayed task to run")
    assert time.monotonic() - sent_at >= 3.5


def test_metrics_read_the_queue_depth_from_rabbitmq(rabbit_stack, monkeypatch):
    app = sender_app(monkeypatch, MEDIABUY_BROKER_URL=rabbit_stack["url"])
    metrics_url = rabbit_stack["base_url"] + "/metrics"

    def depth() -> float | None:
        from prometheus_client.parser import text_string_to_metric_families

        text = requests.get(metrics_url, timeout=10).text
        samples = {(s.name, s.labels.get("queue") or s.labels.get("source")): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        assert samples[("mediabuy_state_scrape_ok", "redis")] == 1, samples  # the broker's gauges were read
        assert not any(name == "mediabuy_queue_unacked" for name, _ in samples), "RabbitMQ gives no unacked count"
        return samples.get(("mediabuy_queue_depth", INGEST_QUEUE))

    pause_between_transactions([rabbit_stack["worker"]], rabbit_stack["env"]["DATABASE_URL"])  # nobody takes what is sent now
    try:
        for _ in range(10):
            app.send_task(SWEEP_INBOX)
        # the stopped worker may hold its prefetch (one per pool process): at least 8 wait in RabbitMQ
        wait_until(lambda: (depth() or 0) >= 8, 20, 0.5, "/metrics to show the ingest queue's depth")
    finally:
        signal_group(rabbit_stack["worker"], signal.SIGCONT)
    wait_until(lambda: depth() == 0, 60, 0.5, "the ingest queue to drain")
