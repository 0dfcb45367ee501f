"""What our ADCP client accepts of an agent's answer. The client skips the SDK's and the MCP client's
JSON-schema passes (src/mediabuy_sync/adcp/client.py: they cost most of a poll's CPU) and reads
get_media_buys from the raw answer (a missing revision is counted, not refused); what it needs (id,
status, a given status_as_of) is checked, so a malformed answer must still be refused, as bad_response.
The agent here is the SDK's own seller framework with its validation off, so it sends what it is told:
each buy id asked about names the answer it gets."""

from __future__ import annotations

import asyncio
import threading
import warnings

import pytest

from support.stack import free_port, wait_until

ANSWERS = {  # buy id -> what the agent says of it
    "well_formed": {"status": "active"},
    "status_unknown": {"status": 42},
    "no_status": {},
    "date_garbled": {"status": "active", "status_as_of": "yesterday-ish"},
}


def _buy(media_buy_id: str, fields: dict) -> dict:
    buy = {"media_buy_id": media_buy_id, "status_as_of": "2026-01-01T00:00:00Z", "currency": "USD",
           "total_budget": 1000, "confirmed_at": "2026-01-01T00:00:00Z", "revision": 1, "packages": [],
           "start_time": "2026-01-01T00:00:00Z", "end_time": "2027-01-01T00:00:00Z",
           "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    return {**buy, **fields}


@pytest.fixture(scope="module")
def agent_url():
    import uvicorn
    from adcp.decisioning import DecisioningCapabilities, DecisioningPlatform, SingletonAccounts
    from adcp.decisioning.task_registry import InMemoryTaskRegistry
    from adcp.testing import build_asgi_app
    from adcp.validation.client_hooks import ValidationHookConfig

    class Seller(DecisioningPlatform):
        accounts = SingletonAccounts(account_id="odd", name="odd")
        capabilities = DecisioningCapabilities(specialisms=["sales-non-guaranteed"], supported_protocols=["media_buy"])

        async def get_media_buys(self, req, ctx):
            ids = req.model_dump(mode="json", exclude_none=True).get("media_buy_ids") or []
            return {"media_buys": [_buy(i, ANSWERS[i]) for i in ids]}

        async def _unsupported(self, req, ctx):
            raise NotImplementedError

        create_media_buy = update_media_buy = get_products = get_media_buy_delivery = sync_creatives = _unsupported

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the seller is no complete sales agent, and says so
        app = build_asgi_app(Seller(), name="odd", registry=InMemoryTaskRegistry(), auto_emit_task_webhooks=False,
                             validate_at_init=False, validation=ValidationHookConfig(requests="off", responses="off"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, what="the test agent")
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(10)


def ask(agent_url: str, *buy_ids: str):
    from mediabuy_sync.adcp import client

    return client.run(client.get_media_buys(client.Agent("odd", agent_url), list(buy_ids), timeout=20))


def test_a_well_formed_answer_is_read(agent_url):
    from mediabuy_sync.adcp import client

    polled = ask(agent_url, "well_formed")
    assert [(p.adcp_media_buy_id, p.status, p.confirmed) for p in polled] == [("well_formed", "active", True)]
    assert polled[0].status_as_of.isoformat() == "2026-01-01T00:00:00+00:00"
    assert isinstance(polled[0], client.PolledBuy)


@pytest.mark.parametrize(("odd", "field"), [("status_unknown", "status"), ("no_status", "status"),
                                            ("date_garbled", "status_as_of")])
def test_a_malformed_answer_is_refused_as_a_bad_response(agent_url, odd, field):
    from mediabuy_sync.adcp import client

    with pytest.raises(client.AgentCallError) as refused:
        ask(agent_url, "well_formed", odd)
    assert refused.value.kind == client.BAD_RESPONSE, refused.value
    assert "get_media_buys" in refused.value.message and f"media_buys.1.{field}" in refused.value.message
