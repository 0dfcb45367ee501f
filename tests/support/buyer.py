"""Buyer API clients for the tests — one for the reads and refusals, one for the tests that create campaigns
and act on them — and a valid campaign body to start from."""

from __future__ import annotations

import copy
from datetime import datetime

import requests

API = "/api/v2/buyer"


class Buyer:
    """Calls the buyer API as one advertiser (its own API key)."""

    def __init__(self, base_url: str, advertiser_id: str, key: str):
        self.base_url, self.advertiser_id, self.key = base_url, advertiser_id, key

    def request(self, method: str, path: str, *, key: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base_url + API + path, headers=headers, **{"timeout": 10, **kwargs})

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def create(self, body: dict) -> dict:
        """Create a campaign that must be valid; returns its data."""
        answer = self.post("/campaigns", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]


def iso(moment: datetime) -> str:
    """A moment as the buyer API's bodies write it: ISO 8601, UTC as Z."""
    return moment.isoformat().replace("+00:00", "Z")


class CampaignClient:
    """The buyer API as one advertiser, for the tests that create campaigns and act on them: actions may
    wait for agents, so a long HTTP timeout. `buyer`: a Buyer, or anything with its base_url,
    advertiser_id and key."""

    def __init__(self, buyer):
        self.buyer = buyer
        self.advertiser_id = buyer.advertiser_id

    def call(self, method: str, path: str, body=None) -> requests.Response:
        return requests.request(method, self.buyer.base_url + API + path, json=body, timeout=40,
                                headers={"Authorization": f"Bearer {self.buyer.key}"})

    def ok(self, method: str, path: str, body=None) -> dict:
        answer = self.call(method, path, body)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def campaign(self, campaign_id: str) -> dict:
        return self.ok("GET", f"/campaigns/{campaign_id}")

    def buys(self, campaign_id: str) -> dict[str, dict]:
        """The campaign's media buys by sales agent."""
        return {b["salesAgentId"]: b for b in self.campaign(campaign_id)["mediaBuys"]}

    def create_campaign(self, name: str, start: datetime, end: datetime, products: list[dict], creatives: list[dict],
                        total: float | None = None, **extra) -> str:
        """A campaign that must be created, in USD, its total the products' budgets unless given; its id."""
        body = {"advertiserId": self.advertiser_id, "name": name,
                "flightDates": {"startDate": iso(start), "endDate": iso(end)},
                "budget": {"total": total or sum(p["budget"] for p in products), "currency": "USD"},
                "products": products, "creatives": creatives, **extra}
        answer = self.call("POST", "/campaigns", body)
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]["campaignId"]


def campaign_body(advertiser_id: str, agent_ids: list[str], **overrides) -> dict:
    """A valid POST /campaigns body over `agent_ids` (two products on the first agent when one is given)."""
    first, second = agent_ids[0], agent_ids[-1]
    body = {
        "advertiserId": advertiser_id,
        "name": "Spring sale",
        "flightDates": {"startDate": "2027-03-01T00:00:00Z", "endDate": "2027-03-31T00:00:00Z"},
        "budget": {"total": 10000, "currency": "USD", "dailyCap": 500.5, "pacing": "EVEN"},
        "products": [
            {"salesAgentId": first, "productId": "prod_video", "budget": 6000, "pacing": "even", "bidPrice": 12.5,
             "pricingOptionId": "cpm_std", "formats": ["video_15s", "video_30s"],
             "pacingPeriods": [
                 {"label": "first half", "startTime": "2027-03-01T00:00:00Z", "endTime": "2027-03-16T00:00:00Z",
                  "budget": 3000},
                 {"label": "second half", "startTime": "2027-03-16T00:00:00Z", "endTime": "2027-03-31T00:00:00Z"},
             ]},
            {"salesAgentId": second, "productId": "prod_display", "budget": 3999.99, "pricingOptionId": "cpm_std",
             "formats": ["display_300x250"]},
        ],
        "creatives": [
            {"creativeId": "cr_video_15s", "format": "video_15s", "name": "Teaser"},
            {"creativeId": "cr_banner", "format": "display_300x250"},
        ],
        "propertyList": {"list_id": "pl_news", "include": ["example.com"], "weights": {"example.com": 0.5}},
        "frequencyCaps": [{"maxImpressions": 3, "per": "day"}],
        "optimizationGoals": [
            {"kind": "event", "event_sources": [{"event_source_id": "website_pixel", "event_type": "purchase",
                                                 "value_field": "value"}],
             "target": {"kind": "cost_per", "value": 25.0}},
            {"kind": "metric", "metric": "completed_views", "target": {"kind": "threshold_rate", "value": 0.7}},
        ],
    }
    body.update(copy.deepcopy(overrides))
    return body
