"""MEDIABUY_BROKER_URL chooses the broker: unset, Redis as before; amqp://, RabbitMQ with durable quorum
queues behind topic exchanges (a direct one would make Celery hold countdowns in a worker), and the
web's publisher failing fast. Checked on the Celery apps our factory makes (no broker is contacted)."""

from __future__ import annotations

import dataclasses

import pytest

from mediabuy_sync.config import settings
from mediabuy_sync.queue import rabbit
from mediabuy_sync.queue.app import make_celery
from mediabuy_sync.queue.names import QUEUES

URL = "amqp://guest:guest@127.0.0.1:5672/mediabuy"


@pytest.fixture
def broker_url(monkeypatch):
    def use(url: str):
        monkeypatch.setenv("MEDIABUY_BROKER_URL", url)
        settings.cache_clear()

    yield use
    monkeypatch.undo()
    settings.cache_clear()


def test_unset_the_broker_is_redis_with_our_namespace(broker_url):
    broker_url("")
    conf = make_celery().conf
    assert conf.broker_url == settings().redis_url
    assert conf.broker_transport_options["global_keyprefix"] == settings().redis_namespace
    assert [q.name for q in conf.task_queues] == list(QUEUES)


def test_amqp_makes_durable_quorum_queues_behind_topic_exchanges(broker_url):
    broker_url(URL)
    conf = make_celery().conf
    assert conf.broker_url == URL
    assert "global_keyprefix" not in conf.broker_transport_options  # Redis's, not RabbitMQ's
    assert [q.name for q in conf.task_queues] == list(QUEUES)
    for queue in conf.task_queues:
        assert queue.queue_arguments == {"x-queue-type": "quorum"}
        assert queue.durable and queue.exchange.durable
        assert queue.exchange.type == "topic"
    assert conf.task_default_queue_type == "quorum"
    assert conf.broker_transport_options["confirm_publish"] is True
    # the workers keep retrying the broker; only the web's publisher fails fast
    assert "max_retries" not in conf.broker_transport_options
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1  # the common settings stay


def test_the_webs_publisher_fails_fast_on_rabbitmq_too(broker_url):
    broker_url(URL)
    conf = make_celery(fail_fast=True).conf
    timeout = settings().broker_socket_timeout_seconds
    options = conf.broker_transport_options
    assert options["max_retries"] == 0
    assert options["connect_retries_timeout"] == options["read_timeout"] == options["write_timeout"] == timeout
    assert conf.broker_connection_timeout == timeout


def test_a_broker_url_that_is_not_amqp_is_refused_with_a_clear_message():
    s = dataclasses.replace(settings(), broker_url="redis://127.0.0.1:6379/1")
    with pytest.raises(ValueError, match="MEDIABUY_BROKER_URL must be an amqp:// URL"):
        rabbit.celery_conf(s, fail_fast=False)
