"""The buyer API (/api/v2/buyer): Bearer API keys; a key sees only its advertiser's campaigns."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..store import api_keys, campaigns
from ..store.db import transaction
from .errors import ApiError

bp = Blueprint("buyer", __name__, url_prefix="/api/v2/buyer")


@bp.before_request
def _authenticate():
    scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "UNAUTHORIZED", "Send your API key as Authorization: Bearer <key>.",
                       headers={"WWW-Authenticate": "Bearer"})
    with transaction() as conn:
        advertiser_id = api_keys.advertiser_for(conn, key.strip())
    if advertiser_id is None:
        raise ApiError(401, "UNAUTHORIZED", "The API key is not valid.",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.advertiser_id = advertiser_id


def _iso(value):
    return value.isoformat() if value is not None else None


@bp.get("/campaigns/<campaign_id>")
def get_campaign(campaign_id: str):
    with transaction() as conn:
        view = campaigns.campaign_view(conn, campaign_id, g.advertiser_id)
    if view is None:
        # the same answer whether the campaign is another advertiser's or does not exist
        raise ApiError(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.")
    c = view["campaign"]
    data = {
        "campaignId": c["id"],
        "advertiserId": c["advertiser_id"],
        "name": c["name"],
        "status": c["status"],
        "mediaBuyStatus": {"surfacedStatus": c["surfaced_status"], "blockers": list(c["blockers"]),
                           "asOf": _iso(c["rollup_at"])},
        "mediaBuys": [
            {
                "mediaBuyId": b["id"],
                "salesAgentId": b["sales_agent_id"],
                "adcpMediaBuyId": b["adcp_media_buy_id"],
                "status": b["status"],
                "adcpStatus": b["adcp_status"],
                "statusAsOf": _iso(b["status_as_of"]),
            }
            for b in view["media_buys"]
        ],
        "createdAt": _iso(c["created_at"]),
        "updatedAt": _iso(c["updated_at"]),
    }
    return jsonify({"data": data, "error": None})
