"""web: the buyer API's campaigns (/api/v2/buyer) — create, read, list; live media-buy status. A key
sees only its advertiser's campaigns; another advertiser's campaign is 404, as if it did not exist."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..config import settings
from ..domain import plans
from ..domain.campaigns import CAMPAIGN_STATUSES
from ..domain.lifecycle import reported_status
from ..domain.statuses import Status
from ..domain.sync_runs import SyncRunState
from ..queue.publisher import publisher
from ..services import products as catalogues
from ..services import resync
from ..store import campaigns, cascades
from ..store.db import transaction
from .auth import buyer_blueprint, current_advertiser
from .errors import ApiError, validation_error
from .pages_and_packages import Cursor, package_answer
from .schemas import Campaign, CampaignSummary, CreateCampaign, PacingPeriod, Strict

bp = buyer_blueprint("buyer", __name__, description="Campaigns: create, read, list; live media-buy status.")


# --- schemas of this module's requests and answers ---------------------------------------------------


class CampaignListQuery(Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100),
                           metadata={"description": "Campaigns per page (default 20)."})
    cursor = Cursor(validate=validate.Length(min=1, max=512),
                    metadata={"description": "pagination.nextCursor of the previous page: the page after it."})
    offset = fields.Integer(validate=validate.Range(min=0, max=1_000_000),
                            metadata={"description": "Skip this many campaigns (instead of a cursor)."})
    status = fields.String(validate=validate.OneOf([s.value for s in Status]), metadata={
        "description": "Only campaigns reporting this status (the most restrictive of their media buys', e.g. "
                       "INPUT_REQUIRED: blocked on input; their lifecycleStatus while they have none)."})
    lifecycleStatus = fields.String(validate=validate.OneOf(CAMPAIGN_STATUSES), metadata={
        "description": "Only campaigns in this lifecycle status. ARCHIVED campaigns are listed only when "
                       "lifecycleStatus or status is ARCHIVED."})

    @validates_schema
    def _cursor_or_offset(self, data, **kwargs):
        if "cursor" in data and "offset" in data:
            raise ValidationError({"offset": ["Page with cursor or with offset, not both."]})


class Pagination(Schema):
    limit = fields.Integer(required=True)
    offset = fields.Integer(allow_none=True, metadata={"description": "Null when paging by cursor."})
    total = fields.Integer(required=True, metadata={"description": "Campaigns matching the filter, all pages."})
    hasMore = fields.Boolean(required=True)
    nextCursor = Cursor(allow_none=True, metadata={"description": "Pass as ?cursor= for the next page."})


class CampaignPage(Schema):
    campaigns = fields.List(fields.Nested(CampaignSummary), required=True)
    pagination = fields.Nested(Pagination, required=True)


class StatusQueryBuy(Schema):
    media_buy_id = fields.String(required=True)
    adcp_media_buy_id = fields.String(allow_none=True)
    internal_status = fields.String(allow_none=True)
    adcp_status = fields.String(allow_none=True)
    previous_internal_status = fields.String(allow_none=True)
    previous_adcp_status = fields.String(allow_none=True)
    updated = fields.Boolean(required=True)


class StatusQueryError(Schema):
    media_buy_id = fields.String(required=True)
    error = fields.String(required=True)
    kind = fields.String(allow_none=True)


class StatusQueryAnswer(Schema):
    campaign_id = fields.String(required=True)
    media_buys = fields.List(fields.Nested(StatusQueryBuy), required=True)
    agents_queried = fields.Integer(required=True)
    errors = fields.List(fields.Nested(StatusQueryError), required=True,
                         metadata={"description": "Buys whose agent did not answer; the others are still listed."})


CREATE_EXAMPLE = {
    "advertiserId": "adv_demo",
    "name": "Spring sale",
    "flightDates": {"startDate": "2027-03-01T00:00:00Z", "endDate": "2027-03-31T00:00:00Z"},
    "budget": {"total": 10000, "currency": "USD", "dailyCap": 500, "pacing": "EVEN"},
    "products": [
        {"salesAgentId": "agent_news", "productId": "prod_video", "budget": 6000, "pacing": "even", "bidPrice": 12.5,
         "formats": ["video_15s"],
         "pacingPeriods": [{"label": "launch week", "startTime": "2027-03-01T00:00:00Z",
                            "endTime": "2027-03-08T00:00:00Z", "budget": 2500}]},
        {"salesAgentId": "agent_sports", "productId": "prod_display", "budget": 4000, "formats": ["display_300x250"]},
    ],
    "creatives": [{"creativeId": "cr_video_15s", "format": "video_15s", "name": "Teaser"},
                  {"creativeId": "cr_banner", "format": "display_300x250"}],
    "propertyList": {"list_id": "pl_news"},
    "frequencyCaps": [{"maxImpressions": 3, "per": "day"}],
    "optimizationGoals": [{"kind": "metric", "metric": "completed_views",
                           "target": {"kind": "cost_per", "value": 0.08}}],
}


# --- campaigns -----------------------------------------------------------------------------------------


@bp.route("/campaigns", methods=["POST"])
@bp.arguments(CreateCampaign, example=CREATE_EXAMPLE)
@bp.response(201, Campaign, description="The DRAFT campaign.",
             headers={"Location": {"description": "The campaign's URL.", "schema": {"type": "string"}}})
@bp.alt_response(403, "FORBIDDEN")
@bp.alt_response(409, "INSUFFICIENT_MEDIA_BUDGET")
def create_campaign(body: dict):
    """Create a DRAFT campaign

    Its products, creative manifest and plan are stored; its media buys are made when it is executed.
    advertiserId must be the API key's advertiser (403); every salesAgentId must be a registered
    agent (422); the products' budgets may not add up to more than budget.total (409
    INSUFFICIENT_MEDIA_BUDGET). Nothing is stored unless all of it is.
    """
    advertiser_id = current_advertiser()
    if body["advertiserId"] != advertiser_id:
        raise ApiError(403, "FORBIDDEN", "This API key cannot create campaigns for another advertiser.",
                       field="advertiserId")
    products = body["products"]
    with transaction() as conn:
        known = campaigns.registered_agents(conn, [p["salesAgentId"] for p in products])
        unknown = {f"products.{i}.salesAgentId": ["No sales agent is registered with this id (or it is disabled)."]
                   for i, p in enumerate(products) if p["salesAgentId"] not in known}
        if unknown:
            raise validation_error({"json": unknown})
        # against each seller's catalogue, where we have one: unknown product, format or pricing option
        planned = [{"sales_agent_id": p["salesAgentId"], "product_id": p["productId"], "formats": p["formats"],
                    "pricing_option_id": p.get("pricingOptionId"), "bid_price": p.get("bidPrice")} for p in products]
        refused, options = catalogues.check_plan(conn, planned)
        if refused:
            raise validation_error({"json": refused})
        for i, option in options.items():  # the product's only pricing option, when the buyer named none
            if option and not products[i].get("pricingOptionId"):
                products[i]["pricingOptionId"] = option
        stale = catalogues.stale(conn, sorted(known))
        total = body["budget"]["total"]
        excess = plans.overallocation(total, (p["budget"] for p in products))
        if excess:
            allocated = sum((p["budget"] for p in products), Decimal(0))
            raise ApiError(409, "INSUFFICIENT_MEDIA_BUDGET",
                           f"The products' budgets ({allocated}) exceed the campaign budget ({total}).",
                           {"allocated": float(allocated), "total": float(total), "excess": float(excess)},
                           field="products")
        campaign_id = campaigns.create_plan(conn, _plan(body))
        view = campaigns.campaign_view(conn, campaign_id, advertiser_id)
    catalogues.request_refresh(stale, publisher)  # read by execute, which checks again
    return _campaign(view), 201, {"Location": url_for("buyer.get_campaign", campaign_id=campaign_id)}


@bp.route("/campaigns", methods=["GET"])
@bp.arguments(CampaignListQuery, location="query")
@bp.response(200, CampaignPage)
def list_campaigns(query: dict):
    """List your campaigns

    Newest first, `limit` (at most 100) per page. Page with `cursor` (pagination.nextCursor of the
    previous page: stable while campaigns are created) or with `offset`, not both. `status` filters on
    the status each campaign reports (the most restrictive of its media buys', e.g. INPUT_REQUIRED for
    the campaigns blocked on input), `lifecycleStatus` on the buyer's lifecycle; both may be given.
    ARCHIVED campaigns are left out unless a filter asks for ARCHIVED.
    """
    limit, offset = query["limit"], query.get("offset", 0)
    with transaction() as conn:
        rows, total = campaigns.list_campaigns(conn, current_advertiser(), limit=limit, offset=offset,
                                               status=query.get("status"), lifecycle=query.get("lifecycleStatus"),
                                               after=query.get("cursor"))
    page, has_more = rows[:limit], len(rows) > limit
    return {
        "campaigns": [_summary(row) for row in page],
        "pagination": {
            "limit": limit,
            "offset": None if "cursor" in query else offset,
            "total": total,
            "hasMore": has_more,
            "nextCursor": (page[-1]["created_at"], page[-1]["id"]) if has_more else None,
        },
    }


@bp.route("/campaigns/<id:campaign_id>", methods=["GET"])
@bp.response(200, Campaign)
@bp.alt_response(404, "NOT_FOUND")
def get_campaign(campaign_id: str):
    """Read a campaign

    Its plan, `status` (the most restrictive status of its media buys; its lifecycle while it has
    none), `lifecycleStatus` (DRAFT, ACTIVE, PAUSED, COMPLETED, ARCHIVED), `mediaBuyStatus` (the
    surfaced status, and the buys that decide it) and its media buys with their packages and delivery.
    """
    with transaction() as conn:
        view = campaigns.campaign_view(conn, campaign_id, current_advertiser())
        if view is not None:
            view["cascades"] = cascades.recent(conn, campaign_id)
    if view is None:
        # the same answer whether the campaign is another advertiser's or does not exist
        raise ApiError(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.")
    return _campaign(view)


@bp.route("/campaigns/<id:campaign_id>/media-buy-status", methods=["GET"])
@bp.response(200, StatusQueryAnswer)
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(429, "RATE_LIMITED")
@bp.alt_response(504, "GATEWAY_TIMEOUT")
def media_buy_status(campaign_id: str):
    """Ask every agent of the campaign now

    The campaign's non-terminal media buys are polled through a worker; changes are persisted and
    listed. Once per campaign per 30 s (429 with Retry-After otherwise).
    """
    s = settings()
    try:
        run_id = resync.start_status_query(campaign_id, current_advertiser(), publisher)
    except resync.NotFound:
        raise ApiError(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.") from None
    except resync.TooSoon as exc:
        raise ApiError(429, "RATE_LIMITED",
                       f"Media-buy status was queried less than {s.status_query_window_seconds} s ago.",
                       {"retry_after_seconds": exc.retry_after}, {"Retry-After": str(exc.retry_after)}) from None
    except resync.WorkersUnreachable as exc:  # the broker is down: say so, nothing was changed
        raise ApiError(503, "SERVICE_UNAVAILABLE", "The workers cannot be reached; retry later.",
                       {"reason": str(exc)}, {"Retry-After": str(s.retry_after_seconds)}) from None
    run = resync.wait(run_id, s.status_query_deadline_seconds + 2)
    if run["state"] != SyncRunState.DONE:
        raise ApiError(504, "GATEWAY_TIMEOUT", "The agents did not all answer in time; retry later.",
                       {"run_id": run_id}, {"Retry-After": str(s.retry_after_seconds)})
    result = run["result"]
    return {
        "campaign_id": campaign_id,
        "media_buys": result["media_buys"],
        "agents_queried": result["agents_queried"],
        "errors": [{"media_buy_id": e["media_buy_id"], "error": e["error"]["message"],
                    "kind": e["error"]["kind"]} for e in result["errors"]],
    }


# --- between the store's rows and the API's shapes -----------------------------------------------------


def _plan(body: dict) -> campaigns.Plan:
    budget, flight = body["budget"], body["flightDates"]
    return campaigns.Plan(
        advertiser_id=body["advertiserId"],
        name=body["name"],
        flight_start=flight["startDate"],
        flight_end=flight["endDate"],
        budget_total=budget["total"],
        currency=budget["currency"],
        daily_cap=budget.get("dailyCap"),
        pacing=budget.get("pacing"),
        property_list=body.get("propertyList"),
        frequency_caps=body.get("frequencyCaps") or [],
        optimization_goals=body.get("optimizationGoals") or [],
        products=[
            campaigns.PlannedProduct(
                sales_agent_id=p["salesAgentId"], product_id=p["productId"], budget=p["budget"],
                formats=p["formats"], pacing=p.get("pacing"), bid_price=p.get("bidPrice"),
                pricing_option_id=p.get("pricingOptionId"),
                # stored as the API shows them: ISO times, amounts as numbers
                pacing_periods=PacingPeriod(many=True).dump(p.get("pacingPeriods") or []),
            )
            for p in body["products"]
        ],
        creatives=[campaigns.PlannedCreative(c["creativeId"], c["format"], c.get("name")) for c in body["creatives"]],
    )


def _summary(c: dict) -> dict:
    return {
        "campaignId": c["id"],
        "advertiserId": c["advertiser_id"],
        "name": c["name"],
        "status": reported_status(c["status"], c["surfaced_status"]),
        "lifecycleStatus": c["status"],
        # campaigns made before the plan existed (`mediabuy-sync campaigns create`) have neither
        "flightDates": {"startDate": c["flight_start"], "endDate": c["flight_end"]}
        if c["flight_start"] and c["flight_end"] else None,
        "budget": {"total": c["budget_total"], "currency": c["currency"], "dailyCap": c["daily_cap"],
                   "pacing": c["pacing"]} if c["budget_total"] is not None else None,
        "mediaBuyStatus": {"surfacedStatus": c["surfaced_status"], "blockers": list(c["blockers"]),
                           "asOf": c["rollup_at"]},
        "createdAt": c["created_at"],
        "updatedAt": c["updated_at"],
    }


def _campaign(view: dict) -> dict:
    c = view["campaign"]
    return {
        **_summary(c),
        "products": [
            {"salesAgentId": p["sales_agent_id"], "productId": p["product_id"], "budget": p["budget"],
             "pacing": p["pacing"], "bidPrice": p["bid_price"], "pricingOptionId": p["pricing_option_id"],
             "formats": list(p["formats"]), "pacingPeriods": [_period(x) for x in p["pacing_periods"]]}
            for p in view["products"]
        ],
        "creatives": [{"creativeId": x["creative_id"], "format": x["format"], "name": x["name"]}
                      for x in view["creatives"]],
        "propertyList": c["property_list"],
        "frequencyCaps": c["frequency_caps"],
        "optimizationGoals": c["optimization_goals"],
        "mediaBuys": [
            {
                "mediaBuyId": b["id"],
                "salesAgentId": b["sales_agent_id"],
                "adcpMediaBuyId": b["adcp_media_buy_id"],
                "status": b["status"],
                "adcpStatus": b["adcp_status"],
                "statusAsOf": b["status_as_of"],
                "delivery": {"impressions": b["impressions"], "spend": b["spend"], "clicks": b["clicks"]},
                "packages": [package_answer(p) for p in b["packages"]],
            }
            for b in view["media_buys"]
        ],
        "cascades": [_cascade(x) for x in view.get("cascades", [])],
    }


def _cascade(row: dict) -> dict:
    return {"cascadeId": row["id"], "kind": row["kind"], "state": row["state"], "total": row["total"],
            "succeeded": row["succeeded"], "failed": row["failed"], "pending": row["pending"],
            "createdAt": row["created_at"], "finishedAt": row["finished_at"]}


def _period(stored: dict) -> dict:
    """A stored pacing period ({label, startTime, endTime, budget?}, times as ISO strings) for dumping."""
    return {
        **stored,
        "startTime": _moment(stored.get("startTime")),
        "endTime": _moment(stored.get("endTime")),
    }


def _moment(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value
