"""Campaign products checked against each seller's catalogue (issue 16): unknown product, format or
pricing option refused at create and at execute, naming the field; the pricing option taken from the
product; a seller's catalogue read through the workers."""

from __future__ import annotations

import secrets

import pytest

from mediabuy_sync.store import agents
from mediabuy_sync.store import products as catalogue_store
from mediabuy_sync.store.db import transaction
from support.buyer import Buyer
from support.sim import start_simulator

FLIGHT = {"startDate": "2027-03-01T00:00:00Z", "endDate": "2027-03-31T00:00:00Z"}
VIDEO = {"product_id": "video_premium", "name": "Premium pre-roll",
         "format_options": [{"format_option_id": "video_15s"}, {"format_option_id": "video_30s"}],
         "pricing_options": [{"pricing_option_id": "cpm_usd_fixed", "pricing_model": "cpm", "fixed_price": 22.0},
                             {"pricing_option_id": "cpm_usd_auction", "pricing_model": "cpm", "floor_price": 12.0}]}
CTV = {"product_id": "ctv_sports", "name": "CTV", "format_options": [{"format_option_id": "video_30s"}],
       "pricing_options": [{"pricing_option_id": "cpm_usd_fixed", "pricing_model": "cpm", "fixed_price": 35.0}]}


@pytest.fixture
def seller(make_agent):
    """A registered seller whose catalogue we have read: two products."""
    agent = make_agent()
    with transaction() as conn:
        catalogue_store.replace(conn, agent.agent_id, [VIDEO, CTV])
    return agent.agent_id


@pytest.fixture
def buyer(stack, api_key):
    advertiser = "adv_" + secrets.token_hex(3)
    return Buyer(stack["base_url"], advertiser, api_key(advertiser))


def body(buyer: Buyer, agent_id: str, *products: dict) -> dict:
    return {"advertiserId": buyer.advertiser_id, "name": "Catalogue", "flightDates": FLIGHT,
            "budget": {"total": 10000, "currency": "USD"},
            "products": [{"salesAgentId": agent_id, "budget": 1000, **p} for p in products],
            "creatives": [{"creativeId": "cr_v", "format": "video_30s"}]}


def fields_of(answer) -> dict:
    assert answer.status_code == 422, answer.text
    return answer.json()["error"]["details"]["fields"]


@pytest.mark.parametrize("product, field, says", [
    ({"productId": "prod_nobody_sells", "formats": ["video_30s"]}, "productId", "prod_nobody_sells"),
    ({"productId": "video_premium", "formats": ["video_30s", "display_300x250"], "pricingOptionId": "cpm_usd_fixed"},
     "formats", "display_300x250"),
    ({"productId": "video_premium", "formats": ["video_30s"], "pricingOptionId": "default"}, "pricingOptionId", "default"),
    ({"productId": "video_premium", "formats": ["video_30s"], "pricingOptionId": "cpm_usd_auction", "bidPrice": 9.5},
     "bidPrice", "floor"),
    ({"productId": "video_premium", "formats": ["video_30s"], "pricingOptionId": "cpm_usd_auction"}, "bidPrice", "bid"),
    ({"productId": "video_premium", "formats": ["video_30s"]}, "pricingOptionId", "cpm_usd_auction"),  # two to choose
])
def test_create_refuses_what_the_seller_does_not_sell_naming_the_field(buyer, seller, db, product, field, says):
    before = db("SELECT count(*) AS n FROM campaigns")[0]["n"]
    answer = buyer.post("/campaigns", json=body(buyer, seller, {"productId": "ctv_sports", "formats": ["video_30s"]},
                                                product))

    fields = fields_of(answer)
    assert list(fields) == [f"products.1.{field}"] and says in fields[f"products.1.{field}"][0]
    assert db("SELECT count(*) AS n FROM campaigns")[0]["n"] == before  # nothing stored


def test_the_products_only_pricing_option_is_taken_and_execute_checks_again(buyer, seller, db):
    created = buyer.create(body(buyer, seller, {"productId": "ctv_sports", "formats": ["video_30s"]},
                                {"productId": "video_premium", "formats": ["video_30s"],
                                 "pricingOptionId": "cpm_usd_auction", "bidPrice": 15}))
    assert [p["pricingOptionId"] for p in created["products"]] == ["cpm_usd_fixed", "cpm_usd_auction"]

    # the seller stops selling one of them before the campaign is executed
    with transaction() as conn:
        catalogue_store.replace(conn, seller, [VIDEO])
    answer = buyer.post(f"/campaigns/{created['campaignId']}/execute", json={})

    assert "products.0.productId" in fields_of(answer)
    assert db("SELECT status FROM campaigns WHERE id = %s", (created["campaignId"],))[0]["status"] == "DRAFT"
    assert not db("SELECT 1 FROM media_buys WHERE campaign_id = %s", (created["campaignId"],))


def test_a_sellers_catalogue_is_read_through_the_workers(stack, buyer, tmp_path_factory):
    sim = start_simulator(tmp_path_factory.mktemp("sim"), {"simc_polite": {}}, name="sim-catalogue")
    try:
        with transaction() as conn:
            agents.add_agent(conn, "simc_polite", "simc_polite", sim.mcp["simc_polite"], "hmac-sha256")
        never = buyer.get("/sales-agents/simc_polite/products").json()["data"]
        assert (never["fetchedAt"], never["products"]) == (None, [])

        read = buyer.get("/sales-agents/simc_polite/products", params={"refresh": "true"}, timeout=60)

        assert read.status_code == 200, read.text
        data = read.json()["data"]
        # the polite simulated seller takes any product and lists none: read, empty, so not checked
        assert data["fetchedAt"] is not None and data["error"] is None and data["products"] == []
        assert buyer.get("/sales-agents/agent_nobody/products").status_code == 404
    finally:
        sim.proc.stop()
