"""The demo's campaign is one the buyer API accepts (the demo runs in ./dev up, where no test sees it)."""

from datetime import datetime, timezone

from mediabuy_sync.devtools.demo import DEMO_AGENTS, campaign_request
from mediabuy_sync.web.schemas import CreateCampaign


def test_the_demo_campaign_passes_the_create_schema():
    loaded = CreateCampaign().load(campaign_request(datetime(2026, 11, 26, tzinfo=timezone.utc)))
    assert [p["salesAgentId"] for p in loaded["products"]] == [a[0] for a in DEMO_AGENTS]
    assert sum(p["budget"] for p in loaded["products"]) <= loaded["budget"]["total"]
