"""Security tests: the integration fixtures (real gunicorn, Celery, PostgreSQL, Redis), a web of
their own with low limits, and the two things every rejection is checked for — nothing written,
and counted against the agent in mediabuy_webhooks_received_total."""

from __future__ import annotations

import pytest

# the integration fixtures, shared rather than copied (db, make_agent, make_campaign, api_key, buyer, and
# the RFC 9421 agents with their JWKS server)
from integration.conftest import (  # noqa: F401
    api_key, buyer, db, jwks_server, make_agent, make_campaign, make_signed_agent,
)
from support.rows import row_counter
from support.stack import start_web

# The web of these tests: one process (so its rate limiter is the only one), a low per-agent rate,
# a short body deadline, small header limits, and no admin token.
STRICT = {
    "MEDIABUY_WEB_WORKERS": "1",
    "MEDIABUY_WEBHOOK_RATE_PER_AGENT": "2",
    "MEDIABUY_WEBHOOK_BURST_PER_AGENT": "5",
    "MEDIABUY_WEBHOOK_BODY_TIMEOUT_SECONDS": "1.5",
    "MEDIABUY_WEB_LIMIT_REQUEST_FIELDS": "30",
    "MEDIABUY_WEB_LIMIT_REQUEST_FIELD_SIZE": "4096",
    "MEDIABUY_WEB_LIMIT_REQUEST_LINE": "2048",
    "MEDIABUY_ADMIN_TOKEN": "",  # admin endpoints disabled (test_auth.py)
}


@pytest.fixture(scope="session")
def strict_web(stack):
    """Base URL of a second web, on the same database and broker, with the STRICT limits."""
    proc, base_url = start_web({**stack["env"], **STRICT}, name="web-strict")
    yield base_url
    proc.stop()


@pytest.fixture
def table_counts(db):
    """{table: rows} of every table a request could write to (support/rows.py); compare before and after."""
    return row_counter(db)
