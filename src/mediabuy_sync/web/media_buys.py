"""web: the buyer's reads of media buys (/api/v2/buyer) — one buy, a page of them, a campaign's status
history, an advertiser's frequency caps. A key sees only its advertiser's: another's buy or campaign is
404, as if it did not exist."""

from __future__ import annotations

from ..domain.reports import Source
from ..store import buyer_reads
from ..store import campaigns as campaign_store
from ..store.db import transaction
from .auth import buyer_blueprint, current_advertiser
from .errors import ApiError
from .media_buy_schemas import (
    BUY_EXAMPLE, CAPS_EXAMPLE, HISTORY_EXAMPLE, PAGE_EXAMPLE, AdvertiserCaps, CampaignHistory, HistoryQuery,
    MediaBuyListQuery, MediaBuyPage, MediaBuyRead,
)
from .pages_and_packages import package_answer

bp = buyer_blueprint("buyer_media_buys", __name__,
                     description="Media buys: read one, list them; a campaign's status history; an advertiser's caps.")


# --- routes -------------------------------------------------------------------------------------------


@bp.route("/media-buys/<id:media_buy_id>", methods=["GET"])
@bp.response(200, MediaBuyRead, example={"data": BUY_EXAMPLE, "error": None})
@bp.alt_response(404, "NOT_FOUND")
def get_media_buy(media_buy_id: str):
    """Read a media buy

    Its status and the raw ADCP status beside it, what the seller said with it (`sellerMessage`: why
    INPUT_REQUIRED, why REJECTED), the last failed call to its agent, its goals and creative_ids
    override, and its packages with their delivery.
    """
    with transaction() as conn:
        buy = buyer_reads.media_buy(conn, media_buy_id, current_advertiser())
    if buy is None:
        # the same answer whether the buy is another advertiser's or does not exist
        raise ApiError(404, "NOT_FOUND", f"Media buy {media_buy_id!r} not found.")
    return _buy(buy)


@bp.route("/media-buys", methods=["GET"])
@bp.arguments(MediaBuyListQuery, location="query")
@bp.response(200, MediaBuyPage, example={"data": PAGE_EXAMPLE, "error": None})
def list_media_buys(query: dict):
    """List your media buys

    Newest first, `limit` (at most 100) per page; `cursor` (pagination.nextCursor of the previous
    page) pages on, stable while buys are made. `status`, `campaignId` and `salesAgentId` filter
    (together: all of them).
    """
    limit = query["limit"]
    with transaction() as conn:
        rows = buyer_reads.media_buys(conn, current_advertiser(), limit=limit, status=query.get("status"),
                                      campaign_id=query.get("campaignId"), sales_agent_id=query.get("salesAgentId"),
                                      after=query.get("cursor"))
    page, has_more = rows[:limit], len(rows) > limit
    return {
        "mediaBuys": [_buy(row) for row in page],
        "pagination": {"limit": limit, "hasMore": has_more,
                       "nextCursor": (page[-1]["created_at"], page[-1]["id"]) if has_more else None},
    }


@bp.route("/campaigns/<id:campaign_id>/history", methods=["GET"])
@bp.arguments(HistoryQuery, location="query")
@bp.response(200, CampaignHistory, example={"data": HISTORY_EXAMPLE, "error": None})
@bp.alt_response(404, "NOT_FOUND")
def campaign_history(query: dict, campaign_id: str):
    """A campaign's status history

    The applied status changes of its media buys (from, to, when, what brought it — webhook, poll,
    api, admin — and the seller's message), of its lifecycle (`entity: campaign`, `field: lifecycleStatus`:
    execute, pause, reactivate) and of its reported, most-restrictive status (`field: status`, source rollup),
    newest first, `limit` (at most 100) per page; `cursor` pages to older changes.
    """
    limit = query["limit"]
    with transaction() as conn:
        if buyer_reads.campaign_of(conn, campaign_id, current_advertiser()) is None:
            raise ApiError(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.")
        rows = buyer_reads.campaign_history(conn, campaign_id, limit=limit, before_id=query.get("cursor"))
    page, has_more = rows[:limit], len(rows) > limit
    return {
        "campaignId": campaign_id,
        "history": [_change(row) for row in page],
        "pagination": {"limit": limit, "hasMore": has_more, "nextCursor": page[-1]["id"] if has_more else None},
    }


@bp.route("/advertisers/<id:advertiser_id>/frequency-caps", methods=["GET"])
@bp.response(200, AdvertiserCaps, example={"data": CAPS_EXAMPLE, "error": None})
@bp.alt_response(403, "FORBIDDEN")
def get_advertiser_caps(advertiser_id: str):
    """Read an advertiser's frequency caps

    Your advertiser only (403 otherwise, as for PUT). Empty until set; each live media buy gets them
    merged with its campaign's (the lowest per period).
    """
    if advertiser_id != current_advertiser():
        raise ApiError(403, "FORBIDDEN", "This API key cannot read another advertiser's frequency caps.")
    with transaction() as conn:
        caps = campaign_store.advertiser_caps(conn, advertiser_id)
    return {"advertiserId": advertiser_id, "frequencyCaps": caps}


# --- between the store's rows and the API's shapes -----------------------------------------------------


def _buy(b: dict) -> dict:
    return {
        "mediaBuyId": b["id"],
        "campaignId": b["campaign_id"],
        "salesAgentId": b["sales_agent_id"],
        "adcpMediaBuyId": b["adcp_media_buy_id"],
        "status": b["status"],
        "adcpStatus": b["adcp_status"],
        "statusAsOf": b["status_as_of"],
        "sellerMessage": b["seller_message"],
        "lastError": b["last_error"],
        "optimizationGoals": b["optimization_goals"],
        "creativeIds": b["creative_ids"],
        "delivery": {"impressions": b["impressions"], "spend": b["spend"], "clicks": b["clicks"],
                     "asOf": b["delivery_as_of"]},
        "packages": [package_answer(p) for p in b["packages"]],
        "submittedAt": b["submitted_at"],
        "createdAt": b["created_at"],
        "updatedAt": b["updated_at"],
    }


def _change(row: dict) -> dict:
    is_buy = row["entity_type"] == "media_buy"
    return {
        "at": row["at"],
        "asOf": row["as_of"],
        "entity": row["entity_type"],
        # named as GET campaign names them: `status` the surfaced one (source rollup), `lifecycleStatus`
        # the buyer's own (source api); a buy's is its `status`
        "field": "lifecycleStatus" if not is_buy and row["source"] != Source.ROLLUP else "status",
        "mediaBuyId": row["entity_id"] if is_buy else None,
        "salesAgentId": row["sales_agent_id"],
        "fromStatus": row["from_status"],
        "toStatus": row["to_status"],
        "adcpStatus": row["adcp_status"],
        "source": row["source"],
        "message": row["message"],
    }
