"""A campaign over a seller nobody here wrote, as a new user would run it (issue 16): registered with our
token and its accounts through the admin API, its catalogue read, a campaign checked against it, executed
(the seller answers synchronously), paused — and a seller that answers "done" without doing it."""

from __future__ import annotations

import os
import secrets

import pytest
import requests

from support.buyer import Buyer
from support.sim import start_simulator
from support.stack import wait_until

TOKEN = "tok-strict-campaign-" + secrets.token_hex(8)
ACCOUNT = "acc_strict_campaign_1"
ADVERTISER = "adv_strict_campaign"
STRICT = {"profile": "strict-seller", "auth_tokens": [TOKEN],
          "accounts": [{"account_id": ACCOUNT, "brand": {"domain": "acme.example"}}],
          # Not this test's subject (and not handled yet): fields it does not know refused outright,
          # HMAC over another byte string than it sends (issue 16 points 11: --hmac-compact-json).
          "faults": {"refuse_unknown_fields": False, "hmac_compact_signing": False, "update_noop_share": 0.0}}
NOOP = {**STRICT, "faults": {**STRICT["faults"], "update_noop_share": 1.0}}


def admin(stack, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, stack["base_url"] + "/admin" + path, timeout=30,
                            headers={"Authorization": f"Bearer {os.environ['MEDIABUY_ADMIN_TOKEN']}"}, **kwargs)


@pytest.fixture(scope="module")
def seller(stack, tmp_path_factory):
    sim = start_simulator(tmp_path_factory.mktemp("sim"), {"sims_camp": STRICT, "sims_noop": NOOP},
                          name="sim-strict-campaign")
    for agent_id in sim.mcp:  # as an operator would: our token, the seller's accounts
        registered = admin(stack, "POST", "/agents", json={
            "id": agent_id, "endpoint": sim.mcp[agent_id], "scheme": "hmac-sha256", "auth_token": TOKEN,
            "auth_header": "x-adcp-auth", "account_mode": "seller"})
        assert registered.status_code == 201, registered.text
        assert admin(stack, "PUT", f"/agents/{agent_id}/accounts/{ADVERTISER}",
                     json={"account_id": ACCOUNT}).status_code == 204
    yield sim
    sim.proc.stop()


@pytest.fixture(scope="module")
def buyer(stack, seller):
    from mediabuy_sync.store import api_keys
    from mediabuy_sync.store.db import transaction

    with transaction() as conn:
        key = api_keys.create_key(conn, ADVERTISER)[1]
    return Buyer(stack["base_url"], ADVERTISER, key)


def campaign(buyer: Buyer, agent_id: str, **product) -> requests.Response:
    return buyer.post("/campaigns", json={
        "advertiserId": ADVERTISER, "name": "Strict seller", "budget": {"total": 5000, "currency": "USD"},
        "flightDates": {"startDate": "2027-03-01T00:00:00Z", "endDate": "2027-03-31T00:00:00Z"},
        "products": [{"salesAgentId": agent_id, "productId": "display_ros", "budget": 5000,
                      "formats": ["display_300x250"], **product}],
        "creatives": [{"creativeId": "cr_banner", "format": "display_300x250"}]})


def test_a_campaign_over_a_strict_seller_from_its_catalogue_to_a_confirmed_pause(stack, seller, buyer, db):
    catalogue = buyer.get("/sales-agents/sims_camp/products", params={"refresh": "true"}, timeout=60)
    assert catalogue.status_code == 200, catalogue.text
    products = {p["product_id"]: p for p in catalogue.json()["data"]["products"]}  # read with our token
    assert {o["pricing_option_id"] for o in products["display_ros"]["pricing_options"]} == {"cpm_usd_fixed",
                                                                                            "cpm_usd_auction"}
    # two pricing options: the buyer must choose; an auction one takes a bid at least its floor
    assert "products.0.pricingOptionId" in campaign(buyer, "sims_camp").json()["error"]["details"]["fields"]
    assert "products.0.bidPrice" in campaign(buyer, "sims_camp", pricingOptionId="cpm_usd_auction",
                                             bidPrice=1.0).json()["error"]["details"]["fields"]
    created = campaign(buyer, "sims_camp", pricingOptionId="cpm_usd_fixed")
    assert created.status_code == 201, created.text
    campaign_id = created.json()["data"]["campaignId"]

    executed = buyer.post(f"/campaigns/{campaign_id}/execute", json={"debug": True}, timeout=60)

    assert executed.status_code == 200 and executed.json()["data"]["success"] is True, executed.text
    # the seller answered synchronously: the buy took its status at once, its package ids learnt
    view = buyer.get(f"/campaigns/{campaign_id}").json()["data"]
    [buy] = view["mediaBuys"]
    assert buy["status"] in ("ACTIVE", "INPUT_REQUIRED") and buy["adcpMediaBuyId"]
    assert all(p["adcpPackageId"] for p in buy["packages"])
    # it sent the seller's account id and our brand
    sent = db("SELECT request FROM cascade_items WHERE media_buy_id = %s", (buy["mediaBuyId"],))[0]["request"]
    assert sent["account"] == {"account_id": ACCOUNT} and sent["reporting_webhook"]["reporting_frequency"] == "hourly"

    paused = buyer.post(f"/campaigns/{campaign_id}/pause", json={}, timeout=60)

    assert paused.status_code == 200 and paused.json()["data"]["successCount"] == 1, paused.text
    buy_at_seller = requests.get(f"{seller.base['sims_camp']}/_sim/buys/{buy['adcpMediaBuyId']}", timeout=5).json()
    assert buy_at_seller["status"] == "paused"  # confirmed by reading it back before it was counted done


def test_a_pause_the_seller_answers_done_but_never_applies_is_unconfirmed(stack, seller, buyer, db):
    created = campaign(buyer, "sims_noop", pricingOptionId="cpm_usd_fixed")
    assert created.status_code == 201, created.text
    campaign_id = created.json()["data"]["campaignId"]
    assert buyer.post(f"/campaigns/{campaign_id}/execute", json={}, timeout=60).json()["data"]["success"] is True

    paused = buyer.post(f"/campaigns/{campaign_id}/pause", json={}, timeout=60)

    assert paused.status_code == 200, paused.text
    data = paused.json()["data"]
    [result] = data["mediaBuyResults"]
    assert result["success"] is False and data["successCount"] == 0
    wait_until(lambda: db("SELECT state FROM cascade_items WHERE media_buy_id = %s ORDER BY cascade_id DESC LIMIT 1",
                          (result["mediaBuyId"],))[0]["state"] == "unconfirmed", 30, what="the item unconfirmed")
    [buy] = db("SELECT last_error FROM media_buys WHERE id = %s", (result["mediaBuyId"],))
    assert buy["last_error"]["kind"] == "unconfirmed" and "does not show it" in buy["last_error"]["message"]


def test_the_sellers_account_ids_are_discovered_by_brand_and_an_operators_mapping_kept(stack, seller, db):
    known, new = "adv_" + secrets.token_hex(3), "adv_" + secrets.token_hex(3)
    assert admin(stack, "PUT", f"/advertisers/{known}/brand", json={"domain": "acme.example"}).status_code == 204
    brand = new.replace("_", "-") + ".example"
    refused = admin(stack, "PUT", f"/advertisers/{new}/brand", json={"domain": f"{new}.example"})  # an underscore
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "domain"
    assert admin(stack, "PUT", f"/advertisers/{new}/brand", json={"domain": brand}).status_code == 204
    # the operator's own mapping for the campaign's advertiser stays whatever the seller says
    assert admin(stack, "PUT", f"/advertisers/{ADVERTISER}/brand", json={"domain": "acme.example"}).status_code == 204

    found = admin(stack, "POST", "/agents/sims_camp/accounts/discover")

    assert found.status_code == 200, found.text
    accounts = {a["advertiser_id"]: (a["account_id"], a["source"]) for a in found.json()["data"]}
    assert accounts[known] == (ACCOUNT, "discovered")  # the seller's account for that brand
    assert accounts[new][1] == "discovered" and accounts[new][0].startswith("acc_")  # made by its sync_accounts
    assert accounts[ADVERTISER] == (ACCOUNT, "operator")
    at_seller = requests.get(f"{seller.base['sims_camp']}/_sim/accounts", timeout=5).json()
    assert accounts[new][0] in str(at_seller)
