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
from support.buyer import CampaignClient, iso
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


class Client(CampaignClient):
    """Every campaign here: one display product on each agent, one creative."""

    def create(self, agent_ids: list[str], start: datetime, end: datetime) -> str:
        return self.create_campaign("Lifecycle test", start, end, [product(a) for a in agent_ids], [DISPLAY])


@pytest.fixture
def client(buyer):
    return Client(buyer())


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


# --- PUT flightDates and products; re-execute; resubmit ------------------------------------------------


def put(client: Client, campaign_id: str, body: dict) -> requests.Response:
    return client.call("PUT", f"/campaigns/{campaign_id}", body)


def product(agent_id: str, product_id: str = "display_ros", budget: float = 1000) -> dict:
    return {"salesAgentId": agent_id, "productId": product_id, "budget": budget, "formats": ["display_300x250"],
            "pricingOptionId": "cpm_fixed"}


def test_a_draft_takes_a_new_flight_and_new_products_and_bad_ones_change_nothing(client, agents):
    first, second = agents.ids
    campaign_id = client.create([first], now() + timedelta(days=1), now() + timedelta(days=8))
    before = client.campaign(campaign_id)

    start, end = now() + timedelta(days=2), now() + timedelta(days=20)
    answer = put(client, campaign_id, {"flightDates": {"startDate": iso(start), "endDate": iso(end)},
                                       "products": [product(second, budget=600), product(second, "video_pre", 400)]})

    assert answer.status_code == 200, answer.text
    view = client.campaign(campaign_id)
    assert view["flightDates"] == {"startDate": start.isoformat(), "endDate": end.isoformat()}
    assert [(p["salesAgentId"], p["productId"], p["budget"]) for p in view["products"]] == [
        (second, "display_ros", 600), (second, "video_pre", 400)]
    assert before["products"] != view["products"]

    for body, status, field in [
        ({"products": [product("agent_nobody")]}, 422, "products.0.salesAgentId"),
        ({"products": [product(first, budget=900), product(second, budget=900)]}, 409, None),  # total 1000
        ({"products": [product(first), product(first)]}, 422, "products.1.productId"),
        ({"flightDates": {"startDate": iso(end), "endDate": iso(start)}}, 422, "flightDates.endDate"),
    ]:
        refused = put(client, campaign_id, body)
        assert refused.status_code == status, (body, refused.text)
        if field:
            assert refused.json()["error"]["field"] == field, refused.text
        assert client.campaign(campaign_id)["products"] == view["products"]

    # products and manifest replaced together: the manifest is checked against the new products
    video = {**product(first, "video_pre"), "formats": ["video_15s"]}
    alone = put(client, campaign_id, {"products": [video]})
    assert alone.status_code == 422 and "cr_banner" in alone.text, alone.text  # the banner would fit nothing
    both = put(client, campaign_id, {"products": [video], "creatives": [{"creativeId": "cr_v", "format": "video_15s"}]})
    assert both.status_code == 200, both.text
    view = client.campaign(campaign_id)
    assert ([p["productId"] for p in view["products"]], [c["creativeId"] for c in view["creatives"]]) == (
        ["video_pre"], ["cr_v"])


def test_a_live_flight_is_only_extended_carried_to_each_buy_and_then_reactivates(client, agents, db):
    start, end = now() - timedelta(minutes=5), now() + timedelta(hours=2)
    campaign_id = executed_and_active(client, agents.ids, start, end)
    buys = client.campaign(campaign_id)["mediaBuys"]
    for body, field in [({"flightDates": {"startDate": iso(start), "endDate": iso(end - timedelta(hours=1))}},
                         "flightDates.endDate"),
                        ({"flightDates": {"startDate": iso(start + timedelta(minutes=1)),
                                          "endDate": iso(end + timedelta(hours=1))}}, "flightDates.startDate")]:
        refused = put(client, campaign_id, body)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field, refused.text
    assert client.campaign(campaign_id)["flightDates"]["endDate"] == end.isoformat()

    assert client.ok("POST", f"/campaigns/{campaign_id}/pause")["newStatus"] == "PAUSED"
    db("UPDATE campaigns SET flight_end = %s WHERE id = %s", (now() - timedelta(minutes=1), campaign_id))
    assert client.call("POST", f"/campaigns/{campaign_id}/reactivate").status_code == 422

    longer = end + timedelta(days=3)
    answer = put(client, campaign_id, {"flightDates": {"startDate": iso(start), "endDate": iso(longer)}})

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["success"] and sorted(r["mediaBuyId"] for r in data["mediaBuyResults"]) == sorted(
        b["mediaBuyId"] for b in buys), data
    for buy in buys:  # each agent got the new end (update_media_buy end_time) and applied it
        at_agent = sim_buy(agents, buy["salesAgentId"], buy["adcpMediaBuyId"])
        assert datetime.fromisoformat(at_agent["end_time"].replace("Z", "+00:00")) == longer, at_agent
    resumed = client.ok("POST", f"/campaigns/{campaign_id}/reactivate")
    assert (resumed["newStatus"], resumed["successCount"]) == ("ACTIVE", 2)
    wait_until(lambda: statuses(client, campaign_id) == ["ACTIVE", "ACTIVE"], 20, what="the buys resumed")


def test_re_execute_buys_products_added_for_new_agents_only(client, agents):
    first, second = agents.ids
    campaign_id = executed_and_active(client, [first], now() - timedelta(minutes=5), now() + timedelta(hours=2))
    [kept] = client.campaign(campaign_id)["mediaBuys"]
    products = client.campaign(campaign_id)["products"]

    # a product of an agent that has a buy: refused, naming the buy
    more_of_first = put(client, campaign_id, {"products": products + [product(first, "video_pre", 500)],
                                              "budget": {"total": 3000}})
    assert more_of_first.status_code == 422, more_of_first.text
    assert kept["mediaBuyId"] in more_of_first.json()["error"]["message"]
    # a bought product left out, or changed: refused
    assert put(client, campaign_id, {"products": [product(second)]}).status_code == 422
    assert put(client, campaign_id, {"products": [{**products[0], "budget": 999}]}).status_code == 422

    added = put(client, campaign_id, {"products": products + [product(second, budget=500)], "budget": {"total": 3000}})
    assert added.status_code == 200, added.text
    assert len(client.campaign(campaign_id)["mediaBuys"]) == 1  # bought at the next execute

    answer = client.ok("POST", f"/campaigns/{campaign_id}/execute", {})

    assert (answer["previousStatus"], answer["newStatus"], answer["success"]) == ("ACTIVE", "ACTIVE", True)
    assert answer["cascade"]["total"] == 1  # the new agent's buy only
    wait_until(lambda: statuses(client, campaign_id) == ["ACTIVE", "ACTIVE"], 20, what="the new buy approved")
    buys = {b["salesAgentId"]: b for b in client.campaign(campaign_id)["mediaBuys"]}
    assert buys[first]["mediaBuyId"] == kept["mediaBuyId"]
    assert buys[first]["adcpMediaBuyId"] == kept["adcpMediaBuyId"]
    assert [p["budget"] for p in buys[second]["packages"]] == [500]
    assert sim_buy(agents, second, buys[second]["adcpMediaBuyId"])["status"] == "active"


def test_a_rejected_buy_is_resubmitted_by_execute_after_a_change(client, agents, db):
    first, second = agents.ids
    knobs(agents, agents.sim[second], reject_share=1.0)
    try:
        campaign_id = client.create(agents.ids, now() - timedelta(minutes=5), now() + timedelta(hours=2))
        assert client.ok("POST", f"/campaigns/{campaign_id}/execute", {})["success"]
        wait_until(lambda: sorted(statuses(client, campaign_id)) == ["ACTIVE", "REJECTED"], 20,
                   what="one agent to approve, the other to reject")
    finally:
        knobs(agents, agents.sim[second], reject_share=0.0)
    wait_until(lambda: client.campaign(campaign_id)["status"] == "REJECTED", 10, what="the rollup")
    rejected = {b["salesAgentId"]: b for b in client.campaign(campaign_id)["mediaBuys"]}[second]

    # the buyer changes what the seller declined (here its budget), then executes again
    assert put(client, campaign_id, {"budget": {"total": 2500}}).status_code == 200
    answer = client.ok("POST", f"/campaigns/{campaign_id}/execute", {})

    assert answer["success"] and answer["cascade"]["total"] == 1, answer
    wait_until(lambda: statuses(client, campaign_id) == ["ACTIVE", "ACTIVE"], 20, what="the resubmitted buy approved")
    again = {b["salesAgentId"]: b for b in client.campaign(campaign_id)["mediaBuys"]}[second]
    assert again["mediaBuyId"] == rejected["mediaBuyId"]  # the same buy of ours, a new one at the agent
    assert again["adcpMediaBuyId"] != rejected["adcpMediaBuyId"], sim_buy(agents, second, rejected["adcpMediaBuyId"])
    assert sim_buy(agents, second, rejected["adcpMediaBuyId"])["status"] == "rejected"
    ledger = db("SELECT from_status, to_status FROM status_changes WHERE entity_id = %s ORDER BY id",
                (again["mediaBuyId"],))
    assert ("REJECTED", "PENDING_APPROVAL") in [(r["from_status"], r["to_status"]) for r in ledger]
    # the surfaced status is recomputed by a worker after the buy's change: wait for it, as a reader would
    wait_until(lambda: client.campaign(campaign_id)["status"] == "ACTIVE", 20, what="the campaign ACTIVE again")


def knobs(agents, sim_id: str, **values) -> None:
    requests.post(f"{agents.base[sim_id]}/_sim/knobs", json=values, timeout=5).raise_for_status()
