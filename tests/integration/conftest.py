"""Fixtures for tests against the real stack: agents, campaigns, senders, and the database."""

from __future__ import annotations

import secrets

import pytest

from mediabuy_sync import cli
from mediabuy_sync.domain.statuses import Status
from mediabuy_sync.store import agents, api_keys
from mediabuy_sync.store.campaigns import NewBuy, create_campaign
from mediabuy_sync.store.db import transaction
from support.buyer import Buyer
from support.rfc9421 import JwksServer, SignedSender, SigningKey
from support.webhooks import Sender


@pytest.fixture
def db(database):
    """Run SQL against the test database: db(sql, params) -> rows."""

    def query(sql: str, params: dict | tuple | None = None) -> list[dict]:
        with transaction() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    return query


@pytest.fixture
def make_agent(stack):
    """Register an agent; returns a Sender that signs its webhooks."""

    def make(scheme: str = "hmac-sha256", base_url: str | None = None) -> Sender:
        agent_id = "agent_" + secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        with transaction() as conn:
            agents.add_agent(conn, agent_id, agent_id, "http://127.0.0.1:9/mcp", scheme)
            agents.add_secret(conn, agent_id, scheme, secret)
        return Sender(base_url or stack["base_url"], agent_id, scheme, secret)

    return make


@pytest.fixture
def make_campaign(database):
    """A campaign with buys [(agent Sender, adcp media buy id, status)]; returns (campaign id, buy ids)."""

    def make(buys, advertiser_id: str = "adv_test"):
        with transaction() as conn:
            return create_campaign(
                conn,
                advertiser_id,
                "test campaign",
                [NewBuy(sender.agent_id, adcp_id, status=Status(status)) for sender, adcp_id, status in buys],
                status="ACTIVE",
            )

    return make


@pytest.fixture
def api_key(database):
    def make(advertiser_id: str = "adv_test") -> str:
        with transaction() as conn:
            return api_keys.create_key(conn, advertiser_id)[1]

    return make


@pytest.fixture
def buyer(stack, api_key):
    """A buyer API client with a key of its own: buyer() for a fresh advertiser, buyer("adv_x") for that one."""

    def make(advertiser_id: str | None = None) -> Buyer:
        advertiser_id = advertiser_id or "adv_" + secrets.token_hex(4)
        return Buyer(stack["base_url"], advertiser_id, api_key(advertiser_id))

    return make


@pytest.fixture(scope="module")
def jwks_server():
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def make_signed_agent(stack, jwks_server):
    """Register an rfc9421 agent through the CLI, its JWKS publishing `keys`; returns its SignedSender."""

    def make(*keys: SigningKey, base_url: str | None = None) -> SignedSender:
        keys = keys or (SigningKey.generate(),)
        agent_id = "agent_" + secrets.token_hex(4)
        jwks_server.publish(agent_id, list(keys))
        code = cli.main(["agents", "add", "--id", agent_id, "--endpoint", "http://127.0.0.1:9/mcp",
                         "--scheme", "rfc9421", "--jwks-uri", jwks_server.url(agent_id)])
        assert code == 0
        return SignedSender(base_url or stack["base_url"], agent_id, list(keys))

    return make
