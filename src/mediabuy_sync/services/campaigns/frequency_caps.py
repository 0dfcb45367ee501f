"""services: an advertiser's frequency caps — stored, and carried (merged with each campaign's) to
every media buy its agents hold."""

from __future__ import annotations

import psycopg

from ...adcp import requests as adcp
from ...domain.cascades import AT_AGENT
from ...domain.frequency_caps import merged_frequency_caps
from ...store import campaigns, cascades
from ...store.cascades import NewItem
from .common import account_for, at_agent, frequency_cap_fields, locked, seller_accounts


def set_advertiser_caps(conn: psycopg.Connection, advertiser_id: str, caps: list[dict]) -> list[tuple[str, int]]:
    """Store the advertiser's caps and cascade them to every buy its agents hold; returns
    [(campaign id, cascade id)]."""
    campaigns.set_advertiser_caps(conn, advertiser_id, caps)
    started = []
    for campaign_id in campaigns.with_buys_at_agents(conn, advertiser_id, sorted(AT_AGENT)):
        state = locked(conn, campaign_id, advertiser_id)
        fields = frequency_cap_fields(merged_frequency_caps(state.campaign["frequency_caps"], caps))
        accounts = seller_accounts(conn, state)
        items = [NewItem(b["id"], b["sales_agent_id"], b["status"],
                         adcp.update_media_buy(account_for(accounts, b, advertiser_id), b["id"], **fields))
                 for b in state.buys if at_agent(b)]
        started.append((campaign_id, cascades.create(conn, campaign_id, "frequency_caps", items,
                                                     {"advertiserFrequencyCaps": caps})))
    return started
