"""Fault tests: a stream of signed webhooks over many campaigns while processes die, brokers stall
and agents misbehave; the ledger is checked at the end (tests/support/stream.py).

MEDIABUY_FAULTS_HEAVY=1 scales every stream up tenfold (10,000 events instead of 1,000).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest

from support.stack import pause_between_transactions, signal_group, start_worker


@pytest.fixture(scope="module")
def extra_worker(stack):
    """A second Celery worker of the faults' own (the session's worker keeps running beside it)."""
    started = []

    def start(name: str = "worker-faults", env: dict | None = None):
        proc = start_worker(env or stack["env"], name=name)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()



@pytest.fixture(scope="module")
def fault_stack(stack):
    """Our own web, worker and beat whose PostgreSQL and Redis connections go through proxies the test
    cuts; the session's worker and beat are paused (SIGSTOP) meanwhile, so that only processes that
    see the fault do the work and nothing heals behind the test's back."""
    with _fault_stack(stack) as state:
        yield state


@pytest.fixture(scope="module")
def rabbit_fault_stack(stack):
    """The fault stack with RabbitMQ as the broker (MEDIABUY_BROKER_URL, a vhost of this run's own)
    behind a proxy of its own ("broker"); Redis, for the coalescing keys, behind its proxy as before."""
    from support.rabbit import vhost

    with vhost("faults") as (url, name), _fault_stack(stack, rabbit_url=url) as state:
        state["vhost"] = name
        yield state


@contextmanager
def _fault_stack(stack, rabbit_url: str | None = None):
    from urllib.parse import urlparse

    from psycopg.conninfo import conninfo_to_dict

    from mediabuy_sync.devtools import services as devservices
    from support.stack import start_beat, start_web
    from support.tcp_proxy import TcpProxy

    # A stale-after of 10 s rather than the session's 2 s: still far below production's 60 s, but
    # the sweeper does not copy a backlog of thousands of events back into the queue every few seconds
    env = {**stack["env"], "MEDIABUY_INBOX_STALE_AFTER_SECONDS": "10"}
    info = conninfo_to_dict(env["DATABASE_URL"])
    pg = TcpProxy(info.get("host") or "127.0.0.1", int(info.get("port") or 5432)).start()
    env["DATABASE_URL"] = devservices.with_database(env["DATABASE_URL"], info["dbname"]) + f" host=127.0.0.1 port={pg.port}"
    url = urlparse(env["REDIS_URL"])
    redis = TcpProxy(url.hostname, url.port or 6379).start()
    env["REDIS_URL"] = url._replace(netloc=f"127.0.0.1:{redis.port}").geturl()
    # "broker": the proxy that cuts the Celery broker — Redis's own, or RabbitMQ's
    broker = redis
    if rabbit_url:
        amqp = urlparse(rabbit_url)
        broker = TcpProxy(amqp.hostname, amqp.port or 5672).start()
        env["MEDIABUY_BROKER_URL"] = amqp._replace(
            netloc=f"{amqp.username}:{amqp.password}@127.0.0.1:{broker.port}").geturl()

    paused = [stack["worker"], stack["beat"]]
    pause_between_transactions(paused, stack["env"]["DATABASE_URL"])
    # "started": every process of the fault stack, the ones a test starts later too (stopped at the end)
    # "stack_redis_url": the Redis behind the proxy, for a test that changes what it holds
    state = {"env": env, "pg": pg, "redis": redis, "broker": broker, "started": [],
             "stack_redis_url": stack["env"]["REDIS_URL"]}
    try:
        state["worker"] = start_worker(env, name="worker-faults")
        state["started"].append(state["worker"])
        state["beat"] = start_beat(env, name="beat-faults")
        state["started"].append(state["beat"])
        state["web"], state["base_url"] = start_web(env, name="web-faults")
        state["started"].append(state["web"])
        yield state
    finally:
        for proc in state["started"]:
            proc.stop(timeout=5)
        for proc in paused:
            signal_group(proc, signal.SIGCONT)
        pg.cut()
        redis.cut()
        broker.cut()
