"""A seller's word checked against the seller's state (DESIGN.md, issue 16): a "completed" that skips
the flight is not taken from one webhook but confirmed by reading the buy back; one change delivered
several times under different idempotency keys changes the buy once."""

from __future__ import annotations

import pytest
import requests

from mediabuy_sync.store import agents
from mediabuy_sync.store.db import transaction
from support.sim import create_request, set_status_silently, start_simulator
from support.stack import wait_until
from support.webhooks import Sender, task_payload

SECRET = "seller-words-tests-secret-0123456789ab"
AGENTS = {"simw_quiet": {"faults": {"webhook_drop_share": 1.0}}}  # its own webhooks never come: ours do


@pytest.fixture(scope="module")
def sim(stack, tmp_path_factory):
    simulator = start_simulator(tmp_path_factory.mktemp("sim"), AGENTS, name="sim-words")
    with transaction() as conn:
        agents.add_agent(conn, "simw_quiet", "simw_quiet", simulator.mcp["simw_quiet"], "hmac-sha256")
        agents.add_secret(conn, "simw_quiet", "hmac-sha256", SECRET)
    yield simulator
    simulator.proc.stop()


@pytest.fixture
def buy_at_agent(sim, stack, make_campaign):
    """A buy the simulated agent holds (and has approved: active there), PENDING_APPROVAL here."""
    from mediabuy_sync.adcp import client

    class Agent:
        agent_id = "simw_quiet"

    def make() -> tuple[str, str]:
        agent = client.Agent("simw_quiet", sim.mcp["simw_quiet"])
        answer = client.run(client.create_media_buy(agent, create_request(None, "op_words", None), timeout=30))
        adcp_id = answer["data"]["ext"]["media_buy_id"]
        _, (buy_id,) = make_campaign([(Agent(), adcp_id, "PENDING_APPROVAL")])
        wait_until(lambda: _at_agent(sim, adcp_id) == "active", 10, what="the agent to approve the buy")
        return adcp_id, buy_id

    return make


def _at_agent(sim, adcp_id: str) -> str:
    return requests.get(f"{sim.base['simw_quiet']}/_sim/buys/{adcp_id}", timeout=5).json()["status"]


def _buy(db, buy_id: str) -> dict:
    return db("SELECT status, poll_due_at, poll_reason FROM media_buys WHERE id = %s", (buy_id,))[0]


def _ledger(db, buy_id: str) -> list[tuple]:
    return [(r["source"], r["to_status"], r["outcome"])
            for r in db("SELECT source, to_status, outcome FROM status_changes WHERE entity_id = %s ORDER BY id", (buy_id,))]


def test_completed_on_approval_is_not_taken_the_sellers_state_is(stack, db, buy_at_agent):
    adcp_id, buy_id = buy_at_agent()
    seller = Sender(stack["base_url"], "simw_quiet", "hmac-sha256", SECRET)

    # the reference seller's approval webhook says "completed" for a buy it has just made active
    assert seller.post(task_payload(adcp_id, "completed")).status_code == 202

    wait_until(lambda: _ledger(db, buy_id), 10, what="the webhook to be applied or recorded")
    assert _ledger(db, buy_id) == [("webhook", "COMPLETED", "anomaly")]
    assert _buy(db, buy_id)["status"] == "PENDING_APPROVAL"
    assert "anomaly" in _buy(db, buy_id)["poll_reason"]  # a reconcile poll is planned
    db("UPDATE media_buys SET poll_due_at = now() WHERE id = %s", (buy_id,))  # rather than its 30 s
    wait_until(lambda: _buy(db, buy_id)["status"] == "ACTIVE", 20, what="the reconcile poll to read the buy back")
    assert _ledger(db, buy_id)[-1] == ("poll", "ACTIVE", "applied")


def test_a_completed_the_seller_confirms_is_applied_by_the_poll(stack, db, buy_at_agent, sim):
    adcp_id, buy_id = buy_at_agent()
    set_status_silently(sim, "simw_quiet", adcp_id, "completed")
    seller = Sender(stack["base_url"], "simw_quiet", "hmac-sha256", SECRET)

    assert seller.post(task_payload(adcp_id, "completed")).status_code == 202
    wait_until(lambda: _ledger(db, buy_id), 10, what="the webhook to be recorded")
    db("UPDATE media_buys SET poll_due_at = now() WHERE id = %s", (buy_id,))

    wait_until(lambda: _buy(db, buy_id)["status"] == "COMPLETED", 20, what="the poll to confirm the completion")
    assert _ledger(db, buy_id) == [("webhook", "COMPLETED", "anomaly"), ("poll", "COMPLETED", "applied")]


def test_one_change_under_several_idempotency_keys_changes_the_buy_once(stack, db, make_agent, make_campaign):
    sender = make_agent()
    _, (buy_id,) = make_campaign([(sender, "sa_twice", "PENDING_APPROVAL")])
    # a seller that holds two push configs for us sends each change twice, each with a new key
    first = task_payload("sa_twice", "active")
    second = {**first, "idempotency_key": "evt_second_delivery_0001"}

    assert sender.post(first).status_code == 202
    assert sender.post(second).status_code == 202  # another key: stored, not a duplicate

    wait_until(lambda: len(_ledger(db, buy_id)) == 2, 10, what="both deliveries to be processed")
    assert sorted(_ledger(db, buy_id)) == [("webhook", "ACTIVE", "applied"), ("webhook", "ACTIVE", "stale")]
    assert _buy(db, buy_id)["status"] == "ACTIVE"
