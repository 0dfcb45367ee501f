"""services: pause and reactivate a campaign — every media buy its agents hold, and each of its
packages, paused or resumed with update_media_buy."""

from __future__ import annotations

import psycopg

from ...adcp import requests as adcp
from ...domain.campaigns import (
    PAUSABLE_FROM, PAUSE_TARGETS, REACTIVATABLE_FROM, REACTIVATE_TARGETS, CampaignStatus,
)
from ...domain.statuses import Status
from ...store import campaigns, cascades
from ...store.cascades import NewItem
from .common import Started, account_for, flight_over, live_packages, locked, seller_accounts, status_rejected


def pause(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    return _pause_or_reactivate(conn, campaign_id, advertiser_id, paused=True)


def reactivate(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    return _pause_or_reactivate(conn, campaign_id, advertiser_id, paused=False)


def _pause_or_reactivate(conn, campaign_id: str, advertiser_id: str, paused: bool) -> Started:
    """The campaign takes its new status now, even if some agents fail: those failures are the
    buyer's to see (mediaBuyResults)."""
    state = locked(conn, campaign_id, advertiser_id)
    previous = state.campaign["status"]
    allowed, targets, new_status = ((PAUSABLE_FROM, PAUSE_TARGETS, CampaignStatus.PAUSED) if paused
                                    else (REACTIVATABLE_FROM, REACTIVATE_TARGETS, CampaignStatus.ACTIVE))
    if previous not in allowed:
        raise status_rejected("paused" if paused else "reactivated", previous, allowed)
    if not paused:  # pausing after the end is harmless; resuming would deliver outside the flight
        flight_over(state, "reactivated")
    advertiser = state.campaign["advertiser_id"]
    accounts = seller_accounts(conn, state)
    items = [
        NewItem(buy["id"], buy["sales_agent_id"], buy["status"], adcp.update_media_buy(
            account_for(accounts, buy, advertiser), buy["id"], paused=paused,
            packages=[{"package_id": p["id"], "paused": paused} for p in live_packages(buy)] or None))
        for buy in state.buys if Status(buy["status"]) in targets
    ]
    started = Started(campaign_id, previous, new_status)
    started.cascade_ids.append(cascades.create(conn, campaign_id, "pause" if paused else "reactivate", items))
    campaigns.set_status(conn, campaign_id, new_status)
    return started
