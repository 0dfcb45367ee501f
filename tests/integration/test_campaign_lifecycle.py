"""A campaign's lifecycle with an end (issue 17), against simulated sales agents and the real web,
worker and beat: execute and reactivate refuse an ended flight; the flight's end completes the buys at
their agents and then the campaign; a completed campaign is archived."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import requests

from mediabuy_sync.store import agents as agent_store
from mediabuy_sync.store.db import transaction
from support.buyer import API
from support.sim import start_simulator
from support.stack import wait_until

SIM_AGENTS = ("life_a", "life_b")
DISPLAY = {"creativeId": "cr_banner", "format": "display_300x250"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory, stack):
    simulator = start_simulator(tmp_path_factory.mktemp("lifecycle"), {a: {} for a in SIM_AGENTS}, "sim-lifecycle")
    yield simulator
    simulator.proc.stop()


@pytest.fixture(scope="module")
def agents(sim):
    """Our registrations (HMAC) of the two simulated agents: {our id: its simulator id}."""
    suffix = secrets.token_hex(3)
    ours = {f"{a}_{suffix}": a for a in SIM_AGENTS}
    with transaction() as conn:
        for agent_id, sim_id in ours.items():
            agent_store.add_agent(conn, agent_id, agent_id, sim.mcp[sim_id], "hmac-sha256")
            agent_store.add_secret(conn, agent_id, "hmac-sha256", secrets.token_hex(24))
    return SimpleNamespace(ids=list(ours), sim=ours, base=sim.base)


class Client:
    def __init__(self, buyer):
        self.buyer = buyer

    def call(self, method: str, path: str, body=None) -> requests.Response:
        return requests.request(method, self.buyer.base_url + API + path, json=body, timeout=40,
                                headers={"Authorization": f"Bearer {self.buyer.key}"})

    def ok(self, method: str, path: str, body=None) -> dict:
        answer = self.call(method, path, body)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def campaign(self, campaign_id: str) -> dict:
        return self.ok("GET", f"/campaigns/{campaign_id}")

    def create(self, agent_ids: list[str], start: datetime, end: datetime) -> str:
        body = {"advertiserId": self.buyer.advertiser_id, "name": "Lifecycle test",
                "flightDates": {"startDate": iso(start), "endDate": iso(end)},
                "budget": {"total": 1000 * len(agent_ids), "currency": "USD"},
                "products": [{"salesAgentId": a, "productId": "display_ros", "budget": 1000,
                              "formats": ["display_300x250"], "pricingOptionId": "cpm_fixed"} for a in agent_ids],
                "creatives": [DISPLAY]}
        answer = self.call("POST", "/campaigns", body)
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]["campaignId"]


@pytest.fixture
def client(buyer):
    return Client(buyer())


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def sim_buy(agents, agent_id: str, adcp_id: str) -> dict:
    return requests.get(f"{agents.base[agents.sim[agent_id]]}/_sim/buys/{adcp_id}", timeout=5).json()


def statuses(client: Client, campaign_id: str) -> list[str]:
    return [b["status"] for b in client.campaign(campaign_id)["mediaBuys"]]


def executed_and_active(client: Client, agent_ids: list[str], start: datetime, end: datetime) -> str:
    campaign_id = client.create(agent_ids, start, end)
    answer = client.ok("POST", f"/campaigns/{campaign_id}/execute", {})
    assert answer["success"], answer
    wait_until(lambda: statuses(client, campaign_id) == ["ACTIVE"] * len(agent_ids), 20,
               what="the agents to approve the buys")
    return campaign_id


def test_execute_refuses_an_ended_flight_naming_its_end_and_makes_no_buys(client, agents):
    end = now() - timedelta(days=2)
    campaign_id = client.create(agents.ids, end - timedelta(days=30), end)

    answer = client.call("POST", f"/campaigns/{campaign_id}/execute", {})

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert f"the flight ended on {end.date().isoformat()}: extend flightDates first" in error["message"]
    assert error["field"] == "flightDates.endDate"
    view = client.campaign(campaign_id)
    assert (view["lifecycleStatus"], view["status"], view["mediaBuys"]) == ("DRAFT", "DRAFT", [])


def test_reactivate_refuses_once_the_flight_ended_and_nothing_changes(client, agents, db):
    campaign_id = executed_and_active(client, agents.ids[:1], now() - timedelta(minutes=5), now() + timedelta(hours=2))
    assert client.ok("POST", f"/campaigns/{campaign_id}/pause")["newStatus"] == "PAUSED"
    ended = now() - timedelta(minutes=1)
    # the flight ran out while paused (moved here: the agent's buy keeps its own end, hours away)
    db("UPDATE campaigns SET flight_end = %s WHERE id = %s", (ended, campaign_id))

    answer = client.call("POST", f"/campaigns/{campaign_id}/reactivate")

    assert answer.status_code == 422, answer.text
    assert f"the flight ended on {ended.date().isoformat()}" in answer.json()["error"]["message"]
    view = client.campaign(campaign_id)
    assert view["lifecycleStatus"] == "PAUSED" and statuses(client, campaign_id) == ["PAUSED"]
    [buy] = view["mediaBuys"]
    assert sim_buy(agents, buy["salesAgentId"], buy["adcpMediaBuyId"])["status"] == "paused"  # nothing sent


def test_the_flight_end_completes_the_buys_then_the_campaign_which_is_then_archived(client, agents, db):
    end = now() + timedelta(seconds=25)
    campaign_id = executed_and_active(client, agents.ids, now() - timedelta(minutes=5), end)
    assert client.campaign(campaign_id)["lifecycleStatus"] == "ACTIVE"
    refused = client.call("POST", f"/campaigns/{campaign_id}/archive")
    assert refused.status_code == 409, refused.text  # live buys

    # at end_time each agent completes its buy and sends its final delivery report
    wait_until(lambda: client.campaign(campaign_id)["lifecycleStatus"] == "COMPLETED", 60,
               what="the flight's end to complete the campaign")
    view = client.campaign(campaign_id)
    assert view["status"] == "COMPLETED" and statuses(client, campaign_id) == ["COMPLETED", "COMPLETED"]
    assert datetime.now(timezone.utc) >= end
    for buy in view["mediaBuys"]:
        assert sim_buy(agents, buy["salesAgentId"], buy["adcpMediaBuyId"])["status"] == "completed"
    listed = client.ok("GET", "/campaigns?lifecycleStatus=COMPLETED")
    assert [c["campaignId"] for c in listed["campaigns"]] == [campaign_id]
    # nothing to resume any more
    assert client.call("POST", f"/campaigns/{campaign_id}/reactivate").status_code == 422

    archived = client.ok("POST", f"/campaigns/{campaign_id}/archive")
    assert (archived["previousStatus"], archived["newStatus"], archived["status"]) == (
        "COMPLETED", "ARCHIVED", "ARCHIVED")
    assert client.ok("GET", "/campaigns")["campaigns"] == []


def test_a_campaign_done_before_its_flight_ends_completes_when_the_flight_ends(client, agents, db):
    """Its last buy finished early: no buy change is left to trigger a recompute; the sweeper's is."""
    end = now() + timedelta(seconds=6)
    campaign_id = executed_and_active(client, agents.ids[:1], now() - timedelta(minutes=5), end + timedelta(hours=1))
    [buy] = client.campaign(campaign_id)["mediaBuys"]
    # the seller completed it early (confirmed by reading it back); then our flight ends
    db("UPDATE campaigns SET flight_end = %s WHERE id = %s", (end, campaign_id))
    db("UPDATE media_buys SET status = 'COMPLETED' WHERE id = %s", (buy["mediaBuyId"],))
    db("UPDATE campaigns SET status_version = status_version + 1 WHERE id = %s", (campaign_id,))
    wait_until(lambda: client.campaign(campaign_id)["status"] == "COMPLETED", 60, what="the rollup")
    lifecycle = client.campaign(campaign_id)["lifecycleStatus"]
    if datetime.now(timezone.utc) < end:  # done, but the flight runs on: not completed yet
        assert lifecycle == "ACTIVE"

    wait_until(lambda: client.campaign(campaign_id)["lifecycleStatus"] == "COMPLETED", 90,
               what="the rollup sweeper to complete it after the flight's end")
    assert datetime.now(timezone.utc) >= end
