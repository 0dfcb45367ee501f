"""services: what a change of the creative manifest sends — sync_creatives to each auto-synced media
buy whose packages gain or lose creatives with it."""

from __future__ import annotations

from ...adcp import requests as adcp
from ...domain.creatives import creatives_for
from ...store.campaign_state import CampaignState
from ...store.cascades import NewItem
from .common import account_for, at_agent, live_packages


def sync_items(state: CampaignState, accounts: dict[str, str | None], new_manifest: dict[str, str],
               overridden: set[str], leaving: set[str]) -> list[NewItem]:
    """sync_creatives to each buy its agent holds that follows the manifest (no creative_ids override,
    none set by this request: `overridden`; not deleted by it: `leaving`) and whose packages gain or
    lose creatives: exactly the buys whose products accept a changed creative's format."""
    items = []
    for buy in state.buys:
        if not at_agent(buy) or buy["creative_ids"] is not None or buy["id"] in overridden or buy["id"] in leaving:
            continue
        formats = {p["product_id"]: p["formats"] for p in state.products if p["sales_agent_id"] == buy["sales_agent_id"]}
        assign, unassign = [], []
        for package in live_packages(buy):
            accepted = formats.get(package["product_id"], ())
            before = set(creatives_for(accepted, state.manifest, None))
            after = set(creatives_for(accepted, new_manifest, None))
            changed = {cid for cid in before & after if state.manifest[cid] != new_manifest[cid]}
            assign += [(cid, package["id"]) for cid in sorted((after - before) | changed)]
            unassign += [(cid, package["id"]) for cid in sorted(before - after)]
        if assign or unassign:
            request = adcp.sync_creatives(account_for(accounts, buy, state.campaign["advertiser_id"]),
                                          sorted({cid for cid, _ in assign}), assign, unassign)
            items.append(NewItem(buy["id"], buy["sales_agent_id"], buy["status"], request))
    return items
