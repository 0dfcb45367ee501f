"""When PostgreSQL or Redis is unreachable from the web: never a 2xx for what isn't committed,
and nothing committed is lost."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
from psycopg.conninfo import conninfo_to_dict

from mediabuy_sync.devtools import services as devservices
from support.stack import start_web, wait_until
from support.tcp_proxy import TcpProxy
from support.webhooks import at, task_payload


@pytest.fixture
def web_via(stack):
    """A second gunicorn whose PostgreSQL or Redis connection goes through a proxy we can cut."""
    started = []

    def start(service: str) -> tuple[str, TcpProxy]:
        env = dict(stack["env"])
        if service == "postgres":
            info = conninfo_to_dict(env["DATABASE_URL"])
            proxy = TcpProxy(info.get("host") or "127.0.0.1", int(info.get("port") or 5432)).start()
            env["DATABASE_URL"] = devservices.with_database(env["DATABASE_URL"], info["dbname"]) + f" host=127.0.0.1 port={proxy.port}"
        else:
            url = urlparse(env["REDIS_URL"])
            proxy = TcpProxy(url.hostname, url.port or 6379).start()
            env["REDIS_URL"] = url._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        web, base_url = start_web(env, name=f"web-via-{service}")
        started.append((web, proxy))
        return base_url, proxy

    yield start
    for web, proxy in started:
        web.stop()
        proxy.cut()


def test_postgres_unreachable_is_503_with_retry_after_and_service_resumes(web_via, make_agent, make_campaign, db):
    base_url, proxy = web_via("postgres")
    agent = make_agent(base_url=base_url)
    _, (buy_id,) = make_campaign([(agent, "sa_pg", "PENDING_APPROVAL")])
    payload = task_payload("sa_pg", "active", timestamp=at(3))
    assert agent.post(task_payload("sa_pg", None, task_status="working", timestamp=at(1))).status_code == 202

    proxy.cut()
    started = time.monotonic()
    answer = agent.post(payload)
    elapsed = time.monotonic() - started

    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert elapsed < 5
    assert db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (agent.agent_id,))[0]["n"] == 1

    # the database comes back: the same web process answers again, and the sender's retry is taken once
    proxy.restore()
    retried = wait_until(lambda: (r := agent.post(payload)).status_code == 202 and r, 15, 0.2, "web to recover")
    assert agent.post(payload).status_code == 200  # a second retry is a duplicate
    event_id = retried.json()["data"]["event_id"]
    wait_until(lambda: db("SELECT state FROM webhook_events WHERE id = %s", (event_id,))[0]["state"] == "processed")
    assert db("SELECT status FROM media_buys WHERE id = %s", (buy_id,))[0]["status"] == "ACTIVE"


def test_readyz_reports_postgres_down(web_via):
    import requests

    base_url, proxy = web_via("postgres")
    assert requests.get(base_url + "/readyz", timeout=5).status_code == 200
    proxy.cut()
    answer = requests.get(base_url + "/readyz", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["checks"]["postgres"].startswith("unavailable")
    assert answer.json()["checks"]["redis"] == "ok"


def test_redis_unreachable_at_enqueue_still_202_and_the_sweeper_processes_it(web_via, make_agent, make_campaign, db):
    base_url, proxy = web_via("redis")
    agent = make_agent(base_url=base_url)
    _, (buy_id,) = make_campaign([(agent, "sa_redis", "PENDING_APPROVAL")])
    proxy.cut()

    started = time.monotonic()
    answer = agent.post(task_payload("sa_redis", "active", timestamp=at(2)))
    elapsed = time.monotonic() - started

    assert answer.status_code == 202, answer.text
    assert elapsed < 2, f"enqueue with Redis down took {elapsed:.2f} s"
    event_id = answer.json()["data"]["event_id"]
    # not enqueued, so only the inbox sweeper (beat, 1 s period, stale after 2 s here) can bring it in
    wait_until(lambda: db("SELECT state FROM webhook_events WHERE id = %s", (event_id,))[0]["state"] == "processed",
               20, what="the sweeper to get the event processed")
    row = db("SELECT enqueued_at FROM webhook_events WHERE id = %s", (event_id,))[0]
    assert row["enqueued_at"] is not None  # it was the sweeper that enqueued it
    assert db("SELECT status FROM media_buys WHERE id = %s", (buy_id,))[0]["status"] == "ACTIVE"
