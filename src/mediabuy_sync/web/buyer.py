"""The buyer API (/api/v2/buyer): Bearer API keys; a key sees only its advertiser's campaigns."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from .. import resync
from ..config import settings
from ..store import api_keys, campaigns
from ..store.db import queries, transaction
from .errors import ApiError
from .publisher import publisher

QP = queries("polling")

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


@bp.get("/campaigns/<campaign_id>/media-buy-status")
def media_buy_status(campaign_id: str):
    """Ask every agent of the campaign now (through a worker), persist the changes, answer them."""
    s = settings()
    params = {"campaign_id": campaign_id, "advertiser_id": g.advertiser_id, "window": s.status_query_window_seconds}
    with transaction() as conn:
        claimed = conn.execute(QP["claim_status_query"], params).fetchone()
        if claimed is None:
            wait = conn.execute(QP["status_query_retry_after"], params).fetchone()
    if claimed is None:
        if wait is None:
            raise ApiError(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.")
        retry_after = max(1, wait["seconds"] or 1)
        raise ApiError(429, "RATE_LIMITED",
                       f"Media-buy status was queried less than {s.status_query_window_seconds} s ago.",
                       {"retry_after_seconds": retry_after}, {"Retry-After": str(retry_after)})
    try:
        run_id = resync.request("status_query", campaign_id, "api", publisher)
    except Exception as exc:  # noqa: BLE001 - the broker is down: say so, nothing was changed
        with transaction() as conn:  # give the client its query back
            conn.execute("UPDATE campaigns SET last_status_query_at = NULL WHERE id = %s", (campaign_id,))
        raise ApiError(503, "SERVICE_UNAVAILABLE", "The workers cannot be reached; retry later.",
                       {"reason": type(exc).__name__}, {"Retry-After": str(s.retry_after_seconds)}) from None
    run = resync.wait(run_id, s.status_query_deadline_seconds + 2)
    if run["state"] != "done":
        raise ApiError(504, "GATEWAY_TIMEOUT", "The agents did not all answer in time; retry later.",
                       {"run_id": run_id}, {"Retry-After": str(s.retry_after_seconds)})
    result = run["result"]
    return jsonify({"data": {
        "campaign_id": campaign_id,
        "media_buys": result["media_buys"],
        "agents_queried": result["agents_queried"],
        "errors": [{"media_buy_id": e["media_buy_id"], "error": e["error"]["message"],
                    "kind": e["error"]["kind"]} for e in result["errors"]],
    }, "error": None})
