"""The buyer's reads through the real web (and, where a seller speaks, the worker and a simulated agent):
GET /media-buys/<id> with the seller's message, the list with its filters and cursor pages, a campaign's
status history, an advertiser's frequency caps; bad input answered with a clear error."""

from __future__ import annotations

import base64
from contextlib import contextmanager

import requests

from integration.test_buyer_actions import (  # noqa: F401 — fixtures: the simulator and our registrations
    DISPLAY, VIDEO, Client, agents, client, create, product, sim_buy, sim_process,
)
from support.stack import wait_until

REJECTION = "Inventory is no longer available for the requested flight."
INPUT_REQUIRED = "Approved; assign creatives to the packages with sync_creatives to start delivery."


@contextmanager
def seller_knobs(agents, agent_id: str, **timings):
    """The simulated seller behind agent_id runs with these timings (reject_share, input_required_share,
    delivery_interval_seconds, …) for the block's duration; its shares of decisions default to none."""
    url = f"{agents.base[agents.sim[agent_id]]}/_sim/knobs"
    wanted = {"reject_share": 0.0, "input_required_share": 0.0, **timings}
    before = requests.get(url, timeout=5).json()["timings"]
    answer = requests.post(url, json={"timings": wanted}, timeout=5)
    assert answer.status_code == 200, answer.text
    try:
        yield
    finally:
        requests.post(url, json={"timings": {k: before[k] for k in wanted}}, timeout=5)


def executed(client: Client, products: list[dict], creatives: list[dict]) -> str:
    campaign_id = create(client, products, creatives)
    assert client.ok("POST", f"/campaigns/{campaign_id}/execute")["success"]
    return campaign_id


def test_a_rejected_buy_shows_the_sellers_message_and_its_history(client: Client, agents):
    with seller_knobs(agents, agents.hmac, reject_share=1.0):
        campaign_id = executed(client, [product(agents.hmac, "display_ros", 1000, ["display_300x250"])], [DISPLAY])
        [buy] = client.buys(campaign_id).values()
        wait_until(lambda: client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")["status"] == "REJECTED", 20,
                   what="the seller's rejection")
    read = client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")
    assert (read["status"], read["adcpStatus"], read["sellerMessage"]) == ("REJECTED", "rejected", REJECTION)
    assert (read["campaignId"], read["salesAgentId"], read["adcpMediaBuyId"]) == (
        campaign_id, agents.hmac, buy["adcpMediaBuyId"])
    assert sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])["status"] == "rejected"
    assert [p["productId"] for p in read["packages"]] == ["display_ros"]
    assert read["packages"][0]["delivery"] == {"impressions": 0, "spend": 0, "clicks": 0}

    wait_until(lambda: any(h["entity"] == "campaign" and h["field"] == "status" and h["toStatus"] == "REJECTED"
                           for h in client.ok("GET", f"/campaigns/{campaign_id}/history")["history"]), 10,
               what="the campaign to surface REJECTED")
    history = client.ok("GET", f"/campaigns/{campaign_id}/history")
    buy_steps = [h for h in history["history"] if h["entity"] == "media_buy"]
    # newest first: the seller's rejection by webhook, with its words, after the submission
    assert (buy_steps[0]["fromStatus"], buy_steps[0]["toStatus"], buy_steps[0]["source"], buy_steps[0]["message"]) == (
        "PENDING_APPROVAL", "REJECTED", "webhook", REJECTION)
    assert buy_steps[-1]["fromStatus"] == "DRAFT" and buy_steps[-1]["toStatus"] == "PENDING_APPROVAL"
    assert all(h["mediaBuyId"] == buy["mediaBuyId"] and h["salesAgentId"] == agents.hmac for h in buy_steps)
    # the campaign's own status, set by execute: a buyer's action (source api)
    [own] = [h for h in history["history"] if h["entity"] == "campaign" and h["field"] == "lifecycleStatus"]
    assert (own["fromStatus"], own["toStatus"], own["source"], own["mediaBuyId"]) == ("DRAFT", "ACTIVE", "api", None)
    assert {h["field"] for h in buy_steps} == {"status"}
    ats = [h["at"] for h in history["history"]]
    assert ats == sorted(ats, reverse=True)
    assert history["pagination"] == {"limit": 50, "hasMore": False, "nextCursor": None}


def test_an_input_required_buy_shows_why(client: Client, agents):
    # no creative of the video format in the manifest: the seller waits on the buyer's creatives
    with seller_knobs(agents, agents.bearer, input_required_share=1.0):
        campaign_id = executed(client, [product(agents.bearer, "video_premium", 1000, ["video_15s"]),
                                        product(agents.hmac, "display_ros", 1000, ["display_300x250"])], [DISPLAY])
        buy = client.buys(campaign_id)[agents.bearer]
        wait_until(lambda: client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")["status"] == "INPUT_REQUIRED", 20,
                   what="the seller to ask for creatives")
    read = client.ok("GET", f"/media-buys/{buy['mediaBuyId']}")
    assert (read["adcpStatus"], read["sellerMessage"]) == ("input-required", INPUT_REQUIRED)
    assert sim_buy(agents, agents.bearer, buy["adcpMediaBuyId"])["status"] == "pending_creatives"
    # the list filtered by status finds it, and only it of this campaign
    listed = client.ok("GET", f"/media-buys?campaignId={campaign_id}&status=INPUT_REQUIRED")["mediaBuys"]
    assert [(b["mediaBuyId"], b["sellerMessage"]) for b in listed] == [(buy["mediaBuyId"], INPUT_REQUIRED)]
    steps = client.ok("GET", f"/campaigns/{campaign_id}/history")["history"]
    assert any(h["mediaBuyId"] == buy["mediaBuyId"] and h["toStatus"] == "INPUT_REQUIRED"
               and h["message"] == INPUT_REQUIRED for h in steps)


def test_a_live_buy_reads_its_goals_override_and_delivery(client: Client, agents):
    goals = [{"kind": "metric", "metric": "clicks", "target": {"kind": "cost_per", "value": 1.5}}]
    campaign_id = create(client, [product(agents.rfc, "ctv_sports", 2000, ["video_15s"], periods=2)], [VIDEO],
                         optimizationGoals=goals)
    assert client.ok("POST", f"/campaigns/{campaign_id}/execute")["success"]
    [buy] = client.buys(campaign_id).values()
    path = f"/media-buys/{buy['mediaBuyId']}"
    wait_until(lambda: client.ok("GET", path)["status"] == "ACTIVE", 20, what="the seller to approve")
    client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [{"mediaBuyId": buy["mediaBuyId"],
                                                                   "creative_ids": ["cr_video"]}]})
    # the seller reports delivery (webhooks) for a while, then stops: our read ends equal to its totals
    with seller_knobs(agents, agents.rfc, delivery_interval_seconds=0.3):
        wait_until(lambda: client.ok("GET", path)["delivery"]["impressions"] > 0, 20, what="a delivery report")

    def settled() -> bool:
        at_agent = sim_buy(agents, agents.rfc, buy["adcpMediaBuyId"])["totals"]
        ours = client.ok("GET", path)["delivery"]
        return (ours["impressions"], ours["clicks"], round(ours["spend"], 2)) == (
            at_agent["impressions"], at_agent["clicks"], round(at_agent["spend"], 2))

    wait_until(settled, 15, what="our delivery to equal the seller's")
    read = client.ok("GET", path)
    assert (read["status"], read["sellerMessage"], read["lastError"]) == ("ACTIVE", None, None)
    assert read["optimizationGoals"] == goals and read["creativeIds"] == ["cr_video"]
    assert read["delivery"]["impressions"] > 0 and read["delivery"]["asOf"]
    packages = read["packages"]
    assert [p["pacingPeriod"]["index"] for p in packages] == [0, 1]
    assert sum(p["delivery"]["impressions"] for p in packages) == read["delivery"]["impressions"]
    assert read["submittedAt"] and read["createdAt"] <= read["updatedAt"]


def test_the_list_pages_by_cursor_and_filters(buyer, make_agent, make_campaign):
    me = buyer()
    one, two = make_agent(), make_agent()
    first, first_buys = make_campaign([(one, "sa_l1", "ACTIVE"), (two, "sa_l2", "PAUSED"), (one, None, "DRAFT")],
                                      advertiser_id=me.advertiser_id)
    second, second_buys = make_campaign([(one, "sa_l4", "ACTIVE"), (two, "sa_l5", "ACTIVE"), (two, None, "FAILED"),
                                         (one, "sa_l7", "REJECTED")], advertiser_id=me.advertiser_id)
    # another advertiser's buys, at the same agents: never listed, never read
    their_campaign, (theirs,) = make_campaign([(one, "sa_other", "ACTIVE")],
                                              advertiser_id="adv_other_" + me.advertiser_id[4:])
    mine = set(first_buys) | set(second_buys)

    def page(query: str) -> dict:
        answer = me.get(f"/media-buys?{query}")
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    seen, cursor, pages = [], None, 0
    while True:
        got = page("limit=3" + (f"&cursor={cursor}" if cursor else ""))
        pages += 1
        assert len(got["mediaBuys"]) <= 3 and got["pagination"]["limit"] == 3
        seen += [b["mediaBuyId"] for b in got["mediaBuys"]]
        if not got["pagination"]["hasMore"]:
            assert got["pagination"]["nextCursor"] is None
            break
        cursor = got["pagination"]["nextCursor"]
    assert pages == 3 and len(seen) == len(set(seen)) == 7 and set(seen) == mine
    # newest first: the second campaign's buys before the first's (each campaign's by id, descending)
    assert seen == sorted(second_buys, reverse=True) + sorted(first_buys, reverse=True)

    assert {b["mediaBuyId"] for b in page("status=ACTIVE")["mediaBuys"]} == {
        first_buys[0], second_buys[0], second_buys[1]}
    assert {b["mediaBuyId"] for b in page(f"campaignId={first}")["mediaBuys"]} == set(first_buys)
    assert {b["mediaBuyId"] for b in page(f"salesAgentId={two.agent_id}")["mediaBuys"]} == {
        first_buys[1], second_buys[1], second_buys[2]}
    both = page(f"salesAgentId={two.agent_id}&status=ACTIVE&campaignId={second}")["mediaBuys"]
    assert [(b["mediaBuyId"], b["status"], b["campaignId"]) for b in both] == [(second_buys[1], "ACTIVE", second)]
    # another advertiser's campaign filters to nothing; its buy is 404, as a missing one
    assert page(f"campaignId={second}&status=CANCELED")["mediaBuys"] == []
    assert page(f"campaignId={their_campaign}")["mediaBuys"] == []
    assert me.get(f"/media-buys/{theirs}").status_code == 404
    assert theirs not in seen
    missing = me.get("/media-buys/mb_missing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


def test_bad_input_is_a_clear_error(buyer, make_agent, make_campaign):
    me = buyer()
    campaign_id, _ = make_campaign([(make_agent(), "sa_bad", "ACTIVE")], advertiser_id=me.advertiser_id)
    forged = base64.urlsafe_b64encode(b"sc:not-a-number").decode()
    for path, field in (("/media-buys?status=LIVE", "status"), ("/media-buys?cursor=bm9wZQ", "cursor"),
                        ("/media-buys?limit=0", "limit"), ("/media-buys?limit=101", "limit"),
                        ("/media-buys?salesAgentId=a%20b", "salesAgentId"), ("/media-buys?colour=red", "colour"),
                        (f"/campaigns/{campaign_id}/history?cursor={forged}", "cursor"),
                        (f"/campaigns/{campaign_id}/history?limit=500", "limit")):
        answer = me.get(path)
        assert answer.status_code == 422, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and field in str(error["details"]), (path, error)
    other = buyer()
    assert other.get(f"/campaigns/{campaign_id}/history").status_code == 404
    assert me.get("/campaigns/cmp_missing/history").status_code == 404
    assert me.get("/media-buys/mb%00x").status_code == 404
    assert me.get("/media-buys", key="not-a-key").status_code == 401


def test_history_pages_by_cursor(buyer, make_agent, make_campaign, db):
    me = buyer()
    campaign_id, (buy_id,) = make_campaign([(make_agent(), "sa_hist", "PENDING_APPROVAL")],
                                           advertiser_id=me.advertiser_id)
    for n, (src, dst) in enumerate([("PENDING_APPROVAL", "ACTIVE"), ("ACTIVE", "PAUSED"), ("PAUSED", "ACTIVE"),
                                    ("ACTIVE", "PAUSED")]):
        db("INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, source, outcome, message) "
           "VALUES ('media_buy', %s, %s, %s, 'poll', 'applied', %s)", (buy_id, src, dst, f"step {n}"))
    # not applied: not in the timeline
    db("INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, source, outcome) "
       "VALUES ('media_buy', %s, 'PAUSED', 'COMPLETED', 'webhook', 'anomaly')", (buy_id,))
    everything = me.get(f"/campaigns/{campaign_id}/history").json()["data"]["history"]
    assert [h["message"] for h in everything if h["entity"] == "media_buy"] == ["step 3", "step 2", "step 1", "step 0"]
    seen, cursor = [], None
    while True:
        answer = me.get(f"/campaigns/{campaign_id}/history?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        seen += data["history"]
        cursor = data["pagination"]["nextCursor"]
        if not data["pagination"]["hasMore"]:
            break
    assert seen == everything and len(seen) >= 5  # the four steps and the campaign's first surfaced status


def test_an_advertisers_frequency_caps_read_back(client: Client, buyer):
    assert client.ok("GET", f"/advertisers/{client.advertiser_id}/frequency-caps") == {
        "advertiserId": client.advertiser_id, "frequencyCaps": []}
    caps = [{"maxImpressions": 2, "per": "hour"}, {"maxImpressions": 10, "per": "day"}]
    client.ok("PUT", f"/advertisers/{client.advertiser_id}/frequency-caps", {"frequencyCaps": caps})
    assert client.ok("GET", f"/advertisers/{client.advertiser_id}/frequency-caps") == {
        "advertiserId": client.advertiser_id, "frequencyCaps": caps}
    someone = Client(buyer())
    refused = someone.call("GET", f"/advertisers/{client.advertiser_id}/frequency-caps")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"


def test_the_reads_are_documented_with_examples_that_fit_their_schemas(stack):
    from jsonschema import Draft202012Validator

    document = requests.get(stack["base_url"] + "/openapi.json", timeout=10).json()
    for path in ("/api/v2/buyer/media-buys/{media_buy_id}", "/api/v2/buyer/media-buys",
                 "/api/v2/buyer/campaigns/{campaign_id}/history", "/api/v2/buyer/advertisers/{advertiser_id}/frequency-caps"):
        media = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert media.get("example"), path
        schema = {**media["schema"], "components": document["components"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(media["example"])]
        assert not errors, (path, errors)
