"""Test setup: a database and a Redis namespace of this run's own, and our real processes.

The base servers come from DATABASE_URL / REDIS_URL (./dev test sets them) or are found or
started the way ./dev does. Nothing here touches the run database `mediabuy`.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
TEST_SECRETS_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()  # a Fernet key


def _configure_environment() -> None:
    from mediabuy_sync.devtools import services as devservices

    base_db = devservices.postgres_server(ROOT, "mediabuy")
    redis_url = devservices.redis_server(ROOT)
    os.environ.update(
        {
            "DATABASE_URL": devservices.with_database(base_db, f"mediabuy_test_{RUN_ID}"),
            "REDIS_URL": redis_url,
            "MEDIABUY_REDIS_NAMESPACE": f"mbtest-{RUN_ID}:",
            "MEDIABUY_TEST_RUN": RUN_ID,
            # fast sweeps so the tests see the backstops work within seconds
            "MEDIABUY_INBOX_STALE_AFTER_SECONDS": "2",
            "MEDIABUY_INBOX_SWEEP_INTERVAL_SECONDS": "1",
            "MEDIABUY_ROLLUP_SWEEP_INTERVAL_SECONDS": "1",
            "MEDIABUY_NONCE_PURGE_INTERVAL_SECONDS": "1",
            "MEDIABUY_INGEST_MAX_ATTEMPTS": "3",
            "MEDIABUY_DB_POOL_TIMEOUT_SECONDS": "1.5",
            "MEDIABUY_RETRY_AFTER_SECONDS": "7",
            "MEDIABUY_ADMIN_TOKEN": "test-admin-token-of-at-least-32-bytes",
            # the tests' agents serve their JWKS over http on loopback
            "MEDIABUY_JWKS_ALLOW_HTTP": "1",
            # agent secrets are sealed with this run's own key (tests/security scans the logs for it)
            "MEDIABUY_SECRETS_KEY": TEST_SECRETS_KEY,
            # per-agent webhook rate limit far above what the suite's streams send; tests/security
            # starts a web of its own with a low one
            "MEDIABUY_WEBHOOK_RATE_PER_AGENT": "5000",
            "MEDIABUY_WEBHOOK_BURST_PER_AGENT": "5000",
            "MEDIABUY_POLL_SWEEP_INTERVAL_SECONDS": "1",
            "MEDIABUY_AGENT_CALL_TIMEOUT_SECONDS": "10",  # the default: room for a loaded machine's first calls
            "MEDIABUY_STATUS_QUERY_DEADLINE_SECONDS": "12",
            # room for a cold worker's first calls; tests of actions read the answer with a longer timeout
            "MEDIABUY_ACTION_DEADLINE_SECONDS": "20",
            # a cascade job lost with its worker is restarted by beat this soon (tests/faults/
            # test_cascade_restart.py); above a live job's longest quiet stretch (a 10 s call + 5 s)
            "MEDIABUY_CASCADE_STALE_AFTER_SECONDS": "16",
            # a seller's "done" not shown on its buy within this is unconfirmed (test_strict_seller_campaign.py)
            "MEDIABUY_CASCADE_CONFIRM_SECONDS": "4",
            # notifications: retries and the blocked threshold short enough to watch (test_notifications.py)
            "MEDIABUY_NOTIFY_SWEEP_INTERVAL_SECONDS": "1",
            "MEDIABUY_NOTIFY_RETRY_BASE_SECONDS": "0.5",
            "MEDIABUY_NOTIFY_RETRY_MAX_DELAY_SECONDS": "1.5",
            "MEDIABUY_NOTIFY_MAX_ATTEMPTS": "4",
            "MEDIABUY_NOTIFY_TIMEOUT_SECONDS": "5",
            "MEDIABUY_NOTIFY_BLOCKED_SECONDS": "3",
        }
    )


_configure_environment()


@pytest.fixture(scope="session")
def database():
    """This run's own database, migrated; dropped at the end."""
    from mediabuy_sync.devtools import services as devservices
    from mediabuy_sync.store.migrate import upgrade

    url = os.environ["DATABASE_URL"]
    devservices.create_database(url)
    upgrade(url)
    yield url
    from mediabuy_sync.store.db import close_pool

    close_pool()
    devservices.drop_database(url)


@pytest.fixture(scope="session")
def stack(database):
    """gunicorn, one Celery worker and one beat, as the Procfile runs them."""
    from support.stack import free_ports, start_beat, start_web, start_worker

    env = dict(os.environ)
    worker_metrics, beat_metrics, port = free_ports(3)  # distinct: picked together
    # Their metrics ports (tests/integration/test_ops.py scrapes them); not in `env`, which other
    # tests reuse to start more workers.
    metrics_ports = {"MEDIABUY_WORKER_METRICS_PORT": str(worker_metrics), "MEDIABUY_BEAT_METRICS_PORT": str(beat_metrics)}
    worker = start_worker({**env, **metrics_ports})
    beat = start_beat({**env, **metrics_ports})
    # The web tells agents where to post webhooks (execute): its own address, known once the port is
    # picked. Only the web's environment has it: a web a test starts elsewhere keeps "as received".
    public = {"MEDIABUY_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    web, base_url = start_web({**env, **public}, port=port)
    yield {"env": env, "base_url": base_url, "web": web, "worker": worker, "beat": beat,
           "public_base_url": public["MEDIABUY_PUBLIC_BASE_URL"], "metrics_ports": metrics_ports}
    for proc in (web, beat, worker):
        proc.stop()


def pytest_sessionfinish(session, exitstatus):
    from support.stack import stop_all

    stop_all()
