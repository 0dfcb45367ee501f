"""Connecting a real seller (issue 16): our token at it, sealed and never shown; the seller's account
ids per advertiser; a brand per advertiser — through the admin API, as an operator would; and what
execute does when a seller that assigns accounts has none for the advertiser."""

from __future__ import annotations

import os
import secrets

import requests

from mediabuy_sync.store.secretbox import open_sealed
from support.buyer import Buyer, campaign_body


def admin(stack, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, stack["base_url"] + "/admin" + path, timeout=30,
                            headers={"Authorization": f"Bearer {os.environ['MEDIABUY_ADMIN_TOKEN']}"}, **kwargs)


def test_an_operator_registers_a_seller_with_our_token_accounts_and_a_brand(stack, db):
    agent_id = "seller_" + secrets.token_hex(3)
    token = "tok-" + secrets.token_urlsafe(24)
    registered = admin(stack, "POST", "/agents", json={
        "id": agent_id, "endpoint": "http://127.0.0.1:9/mcp", "scheme": "hmac-sha256",
        "auth_token": token, "auth_header": "authorization", "account_mode": "seller"})
    assert registered.status_code == 201, registered.text
    answer = registered.json()["data"]
    assert answer["webhook_path"] == f"/webhooks/adcp/{agent_id}" and len(answer["secret"]) >= 32
    assert admin(stack, "POST", "/agents", json={"id": agent_id, "endpoint": "http://x/mcp"}).status_code == 409

    # sealed at rest, and never shown
    [row] = db("SELECT outbound_token_sealed, outbound_auth_header, account_mode, outbound_auth FROM sales_agents "
               "WHERE id = %s", (agent_id,))
    assert token not in row["outbound_token_sealed"] and open_sealed(row["outbound_token_sealed"]) == token
    assert (row["outbound_auth_header"], row["account_mode"], row["outbound_auth"]) == ("authorization", "seller", None)
    listed = admin(stack, "GET", "/agents")
    assert token not in listed.text
    [mine] = [a for a in listed.json()["data"] if a["id"] == agent_id]
    assert (mine["has_auth_token"], mine["outbound_auth_header"], mine["account_mode"]) == (True, "authorization", "seller")

    # rotation: a new token replaces the old
    new_token = "tok-" + secrets.token_urlsafe(24)
    assert admin(stack, "PUT", f"/agents/{agent_id}/auth", json={"auth_token": new_token}).status_code == 204
    [row] = db("SELECT outbound_token_sealed, outbound_auth_header FROM sales_agents WHERE id = %s", (agent_id,))
    assert (open_sealed(row["outbound_token_sealed"]), row["outbound_auth_header"]) == (new_token, "x-adcp-auth")
    bad = admin(stack, "PUT", f"/agents/{agent_id}/auth", json={"auth_token": "x", "auth_header": "cookie"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "auth_header"
    assert admin(stack, "PUT", "/agents/nobody_here/auth", json={"auth_token": "x"}).status_code == 404

    # accounts: the seller's id for each advertiser
    assert admin(stack, "PUT", f"/agents/{agent_id}/accounts/adv_acme", json={"account_id": "acc_8c1f"}).status_code == 204
    accounts = admin(stack, "GET", f"/agents/{agent_id}/accounts").json()["data"]
    assert [(a["advertiser_id"], a["account_id"], a["source"]) for a in accounts] == [("adv_acme", "acc_8c1f", "operator")]
    assert admin(stack, "DELETE", f"/agents/{agent_id}/accounts/adv_acme").status_code == 204
    assert admin(stack, "GET", f"/agents/{agent_id}/accounts").json()["data"] == []
    assert admin(stack, "DELETE", f"/agents/{agent_id}/accounts/adv_acme").status_code == 404

    assert admin(stack, "PUT", "/advertisers/adv_acme/brand", json={"domain": "Acme.Example"}).status_code == 204
    assert db("SELECT brand_domain FROM advertisers WHERE id = 'adv_acme'")[0]["brand_domain"] == "acme.example"


def test_execute_names_the_advertiser_and_seller_without_an_account_and_sends_nothing(stack, db, api_key):
    agent_id = "seller_" + secrets.token_hex(3)
    assert admin(stack, "POST", "/agents", json={"id": agent_id, "endpoint": "http://127.0.0.1:9/mcp",
                                                 "account_mode": "seller"}).status_code == 201
    advertiser = "adv_" + secrets.token_hex(3)
    buyer = Buyer(stack["base_url"], advertiser, api_key(advertiser))
    campaign = buyer.create(campaign_body(advertiser, [agent_id]))

    answer = buyer.post(f"/campaigns/{campaign['campaignId']}/execute", json={})

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["success"] is False and data["newStatus"] == "ACTIVE"
    [error] = data["errors"]
    assert error["salesAgentId"] == agent_id and advertiser in error["message"] and "account" in error["message"]
    # nothing was sent: no cascade item, the buy still DRAFT, to be submitted once the account is set
    [buy] = db("SELECT id, status FROM media_buys WHERE campaign_id = %s", (campaign["campaignId"],))
    assert buy["status"] == "DRAFT"
    assert not db("SELECT 1 FROM cascade_items WHERE media_buy_id = %s", (buy["id"],))
