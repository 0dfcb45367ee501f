"""services: archive a campaign — the buyer's soft delete once nothing of it is live at an agent: the
campaign's lifecycle turns ARCHIVED and each of its finished (or never submitted) buys is archived
through the one status path, so the campaign reports ARCHIVED at once."""

from __future__ import annotations

import psycopg

from ...domain.campaigns import CampaignStatus
from ...domain.lifecycle import ARCHIVED_WITH_CAMPAIGN, live_buys
from ...domain.statuses import Status
from ...store import campaigns
from .common import Rejected, Started, locked
from .media_buy_changes import delete


def archive(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    """Archive the campaign and its buys; refused (409, naming them) while any buy is live at its agent:
    archiving then would hide buys that still spend (pause, cancel or let them complete first)."""
    state = locked(conn, campaign_id, advertiser_id)
    previous = state.campaign["status"]
    if previous == CampaignStatus.ARCHIVED:
        raise Rejected(409, "CONFLICT", f"Campaign {campaign_id!r} is already archived.", details={"status": previous})
    live = live_buys((b["id"], b["status"]) for b in state.buys)
    if live:
        statuses = {b["id"]: b["status"] for b in state.buys}
        raise Rejected(409, "CONFLICT",
                       f"Campaign {campaign_id!r} still has live media buys: "
                       f"{', '.join(f'{b} ({statuses[b]})' for b in live)}. Cancel them (PUT mediaBuys[] "
                       f"action cancel) or wait until they complete, then archive.",
                       details={"liveMediaBuys": [{"mediaBuyId": b, "status": statuses[b]} for b in live]})
    started = Started(campaign_id, previous, CampaignStatus.ARCHIVED)
    for buy in state.buys:
        if Status(buy["status"]) in ARCHIVED_WITH_CAMPAIGN:
            started.local_results.append(delete(conn, buy))
    campaigns.set_status(conn, campaign_id, CampaignStatus.ARCHIVED)
    campaigns.recompute_rollup(conn, campaign_id)  # the answer and the list see ARCHIVED from this commit on
    return started
