"""The buyer's tuning actions that should simply work, end to end: through the real API (web, worker)
against simulated sales agents, each checked three ways — the exact update_media_buy the agent received
(GET /_sim/updates records it), our rows and API answer, and the agent's own buy.

(a) cancel a buy; (b) cancel one package of a buy; (c) a package's budget and pacing on a live buy;
(d) a change of a live buy's optimization goals.
"""

from __future__ import annotations

import requests

from integration.test_buyer_actions import (  # noqa: F401 — fixtures: the simulator and our registrations
    DISPLAY, VIDEO, Client, agents, client, executed_and_active, product, sim_buy, sim_process,
)


def received_updates(agents, agent_id: str, adcp_id: str) -> list[dict]:
    """The update_media_buy requests the agent received for this buy, oldest first, as it parsed them."""
    answer = requests.get(f"{agents.base[agents.sim[agent_id]]}/_sim/updates", params={"media_buy_id": adcp_id},
                          timeout=5)
    assert answer.status_code == 200, answer.text
    return [entry["request"] for entry in answer.json()["updates"]]


def only_update(agents, agent_id: str, adcp_id: str) -> dict:
    """The one update_media_buy the agent received for this buy: its protocol version, account and
    idempotency key checked, the rest returned."""
    [request] = received_updates(agents, agent_id, adcp_id)
    assert request.pop("adcp_version") == "3.2", request
    assert request.pop("account"), request  # which account is the seller's business: present, not checked here
    key = request.pop("idempotency_key")
    assert isinstance(key, str) and len(key) >= 16, key
    return request


def our_rows(db, buy_id: str) -> tuple[str, dict[str, dict]]:
    """(the buy's status, {package id: its row}) as stored here."""
    [buy] = db("SELECT status FROM media_buys WHERE id = %s", (buy_id,))
    packages = db("SELECT id, adcp_package_id, product_id, status, budget, pacing FROM packages "
                  "WHERE media_buy_id = %s ORDER BY id", (buy_id,))
    return buy["status"], {p["id"]: p for p in packages}


def test_cancel_a_buy(client: Client, agents, db):
    campaign_id = executed_and_active(client, [product(agents.hmac, "display_ros", 2000, ["display_300x250"]),
                                               product(agents.bearer, "video_premium", 3000, ["video_15s"])],
                                      [DISPLAY, VIDEO])
    buys = client.buys(campaign_id)
    gone, kept = buys[agents.hmac], buys[agents.bearer]

    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": gone["mediaBuyId"], "action": "cancel", "reason": "brand safety review"}]})

    assert answer["success"] and answer["mediaBuyResults"] == [
        {"mediaBuyId": gone["mediaBuyId"], "salesAgentId": agents.hmac, "previousStatus": "ACTIVE",
         "status": "CANCELED", "success": True, "pending": False}], answer
    # the agent received exactly the cancel of its buy, by its own id
    assert only_update(agents, agents.hmac, gone["adcpMediaBuyId"]) == {
        "media_buy_id": gone["adcpMediaBuyId"], "canceled": True, "cancellation_reason": "brand safety review"}
    assert received_updates(agents, agents.bearer, kept["adcpMediaBuyId"]) == []
    # its buy, our row, our API: canceled; the other buy untouched everywhere
    at_agent = sim_buy(agents, agents.hmac, gone["adcpMediaBuyId"])
    assert at_agent["status"] == "canceled" and at_agent["cancellation"]["reason"] == "brand safety review"
    assert sim_buy(agents, agents.bearer, kept["adcpMediaBuyId"])["status"] == "active"
    assert our_rows(db, gone["mediaBuyId"])[0] == "CANCELED" and our_rows(db, kept["mediaBuyId"])[0] == "ACTIVE"
    buys = client.buys(campaign_id)
    assert (buys[agents.hmac]["status"], buys[agents.bearer]["status"]) == ("CANCELED", "ACTIVE")
    assert client.ok("GET", f"/media-buys/{gone['mediaBuyId']}")["status"] == "CANCELED"
    # ACTIVE + CANCELED surfaces ACTIVE
    assert client.campaign(campaign_id)["mediaBuyStatus"]["surfacedStatus"] == "ACTIVE"


def test_cancel_one_package(client: Client, agents, db):
    campaign_id = executed_and_active(client, [product(agents.hmac, "video_premium", 1000, ["video_15s"]),
                                               product(agents.hmac, "display_ros", 2000, ["display_300x250"])],
                                      [DISPLAY, VIDEO])
    [buy] = client.buys(campaign_id).values()
    by_product = {p["productId"]: p for p in buy["packages"]}
    gone, kept = by_product["display_ros"], by_product["video_premium"]

    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": buy["mediaBuyId"], "action": "cancel", "packageIds": [gone["packageId"]],
         "reason": "format not supported on this device mix"}]})

    assert answer["success"] and answer["mediaBuyResults"][0]["status"] == "ACTIVE", answer
    # exactly one package canceled, named by the agent's package id; nothing about the other
    assert only_update(agents, agents.hmac, buy["adcpMediaBuyId"]) == {
        "media_buy_id": buy["adcpMediaBuyId"],
        "packages": [{"package_id": gone["adcpPackageId"], "canceled": True,
                      "cancellation_reason": "format not supported on this device mix"}]}
    at_agent = sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])
    assert at_agent["status"] == "active"
    assert {p["package_id"]: p["canceled"] for p in at_agent["packages"]} == {
        gone["adcpPackageId"]: True, kept["adcpPackageId"]: False}
    status, rows = our_rows(db, buy["mediaBuyId"])
    assert status == "ACTIVE"
    assert {i: p["status"] for i, p in rows.items()} == {gone["packageId"]: "canceled", kept["packageId"]: "active"}
    read = client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")
    assert read["status"] == "ACTIVE"
    assert {p["packageId"]: p["status"] for p in read["packages"]} == {
        gone["packageId"]: "canceled", kept["packageId"]: "active"}


def test_explicit_package_budget_and_pacing_on_a_live_buy(client: Client, agents, db):
    campaign_id = executed_and_active(client, [product(agents.bearer, "video_premium", 4000, ["video_15s"]),
                                               product(agents.bearer, "display_ros", 6000, ["display_300x250"])],
                                      [DISPLAY, VIDEO])
    [buy] = client.buys(campaign_id).values()
    by_product = {p["productId"]: p for p in buy["packages"]}
    video, display = by_product["video_premium"], by_product["display_ros"]

    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": buy["mediaBuyId"],
         "packages": [{"packageId": video["packageId"], "budget": 3500.5, "pacing": "front_loaded"}]}]})

    assert answer["success"] and answer["mediaBuyResults"] == [
        {"mediaBuyId": buy["mediaBuyId"], "salesAgentId": agents.bearer, "previousStatus": "ACTIVE",
         "status": "ACTIVE", "success": True, "pending": False}], answer
    # the named package's new budget and pacing; the other package (still within the total) not sent
    assert only_update(agents, agents.bearer, buy["adcpMediaBuyId"]) == {
        "media_buy_id": buy["adcpMediaBuyId"],
        "packages": [{"package_id": video["adcpPackageId"], "budget": 3500.5, "pacing": "front_loaded"}]}
    at_agent = {p["package_id"]: p for p in sim_buy(agents, agents.bearer, buy["adcpMediaBuyId"])["packages"]}
    assert (at_agent[video["adcpPackageId"]]["budget"], at_agent[video["adcpPackageId"]]["pacing"]) == (
        3500.5, "front_loaded")
    assert at_agent[display["adcpPackageId"]]["budget"] == 6000
    status, rows = our_rows(db, buy["mediaBuyId"])
    assert status == "ACTIVE"
    assert (float(rows[video["packageId"]]["budget"]), rows[video["packageId"]]["pacing"]) == (3500.5, "front_loaded")
    assert float(rows[display["packageId"]]["budget"]) == 6000
    read = {p["packageId"]: p for p in client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")["packages"]}
    assert (read[video["packageId"]]["budget"], read[video["packageId"]]["pacing"]) == (3500.5, "front_loaded")


def test_a_goals_change_on_a_live_buy(client: Client, agents, db):
    before = [{"kind": "metric", "metric": "clicks", "target": {"kind": "cost_per", "value": 1.5}}]
    after = [{"kind": "metric", "metric": "completed_views", "target": {"kind": "cost_per", "value": 0.08}}]
    campaign_id = executed_and_active(client, [product(agents.rfc, "ctv_sports", 3000, ["video_15s"], periods=2)],
                                      [VIDEO], optimizationGoals=before)
    [buy] = client.buys(campaign_id).values()
    assert client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")["optimizationGoals"] == before

    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": buy["mediaBuyId"], "optimization_goals": after,
         "updated_reason": "Mid-flight optimization based on early performance"}]})

    assert answer["success"] and answer["mediaBuyResults"][0]["status"] == "ACTIVE", answer
    # goals go to every live package (ADCP carries them per package); the reason in ext
    sent_goal = {"kind": "metric", "metric": "completed_views", "target": {"kind": "cost_per", "value": 0.08}}
    request = only_update(agents, agents.rfc, buy["adcpMediaBuyId"])
    request["packages"].sort(key=lambda p: p["package_id"])  # their order says nothing
    assert request == {
        "media_buy_id": buy["adcpMediaBuyId"],
        "packages": sorted(({"package_id": p["adcpPackageId"], "optimization_goals": [sent_goal]}
                            for p in buy["packages"]), key=lambda p: p["package_id"]),
        "ext": {"updated_reason": "Mid-flight optimization based on early performance"}}
    assert sim_buy(agents, agents.rfc, buy["adcpMediaBuyId"])["status"] == "active"
    [row] = db("SELECT status, optimization_goals FROM media_buys WHERE id = %s", (buy["mediaBuyId"],))
    assert (row["status"], row["optimization_goals"]) == ("ACTIVE", after)
    read = client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")
    assert (read["status"], read["optimizationGoals"]) == ("ACTIVE", after)
