"""web: the schemas of the buyer's media-buy reads (web/media_buys.py) — their queries, answers and the
answers' documented examples."""

from __future__ import annotations

import base64
import binascii

from marshmallow import Schema, ValidationError, fields, validate

from ..domain.reports import Source
from ..domain.statuses import Status
from .pages_and_packages import Cursor
from .schemas import AGENT_ID_PATTERN, ID_PATTERN, Delivery, FrequencyCap, OptimizationGoal, Package, Strict

MAX_PAGE = 100


class LastError(Schema):
    kind = fields.String(allow_none=True, metadata={"description": "unreachable, timeout, adcp_error, …"})
    message = fields.String(allow_none=True)
    adcp_error = fields.Dict(allow_none=True, metadata={"description": "The agent's ADCP error, when it sent one."})
    attempts = fields.Integer(allow_none=True)
    at = fields.String(allow_none=True)


class BuyDelivery(Delivery):
    asOf = fields.DateTime(allow_none=True, metadata={"description": "The agent's time of these totals."})


class MediaBuyRead(Schema):
    mediaBuyId = fields.String(required=True)
    campaignId = fields.String(required=True)
    salesAgentId = fields.String(required=True)
    adcpMediaBuyId = fields.String(allow_none=True, metadata={"description": "The agent's id of the buy."})
    status = fields.String(required=True, metadata={"enum": [s.value for s in Status]})
    adcpStatus = fields.String(allow_none=True, metadata={"description": "The raw ADCP status it was mapped from."})
    statusAsOf = fields.DateTime(allow_none=True, metadata={"description": "The agent's time of that status."})
    sellerMessage = fields.String(allow_none=True, metadata={
        "description": "What the seller said with the current status: why input is required, why it was rejected."})
    lastError = fields.Nested(LastError, allow_none=True, metadata={
        "description": "The last failed call to the agent (cleared by the next successful one)."})
    optimizationGoals = fields.List(fields.Nested(OptimizationGoal), allow_none=True)
    creativeIds = fields.List(fields.String(), allow_none=True, metadata={
        "description": "The buy's creative_ids override; null: the campaign's manifest auto-syncs."})
    delivery = fields.Nested(BuyDelivery, required=True)
    packages = fields.List(fields.Nested(Package), required=True)
    submittedAt = fields.DateTime(allow_none=True)
    createdAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(required=True)


class MediaBuyListQuery(Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE),
                           metadata={"description": f"Media buys per page (default 20, at most {MAX_PAGE})."})
    cursor = Cursor(validate=validate.Length(min=1, max=512),
                    metadata={"description": "pagination.nextCursor of the previous page: the page after it."})
    status = fields.String(validate=validate.OneOf([s.value for s in Status]), metadata={"description": "Only this status."})
    campaignId = fields.String(validate=validate.Regexp(f"^{ID_PATTERN}$"),
                               metadata={"description": "Only this campaign's buys."})
    salesAgentId = fields.String(validate=validate.Regexp(f"^{AGENT_ID_PATTERN}$"),
                                 metadata={"description": "Only this sales agent's buys."})


class MediaBuyPagination(Schema):
    limit = fields.Integer(required=True)
    hasMore = fields.Boolean(required=True)
    nextCursor = Cursor(allow_none=True, metadata={"description": "Pass as ?cursor= for the next page."})


class MediaBuyPage(Schema):
    mediaBuys = fields.List(fields.Nested(MediaBuyRead), required=True)
    pagination = fields.Nested(MediaBuyPagination, required=True)


class HistoryCursor(fields.String):
    """An opaque page cursor: the ledger id of the last change of the previous page."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return base64.urlsafe_b64encode(f"sc:{value}".encode()).decode().rstrip("=")

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 64:  # here, not as a validator: validators see the int it becomes
            raise ValidationError("Not a cursor this API gave.")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ValidationError("Not a cursor this API gave.") from None
        prefix, _, number = raw.partition(":")
        # bigint's range: a larger number is no cursor of ours (and would fail in PostgreSQL)
        if prefix != "sc" or not number.isdecimal() or not 0 < int(number) < 2**63:
            raise ValidationError("Not a cursor this API gave.")
        return int(number)


class HistoryQuery(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE),
                           metadata={"description": f"Changes per page (default 50, at most {MAX_PAGE})."})
    cursor = HistoryCursor(metadata={"description": "pagination.nextCursor of the previous page: older changes."})


class HistoryEntry(Schema):
    at = fields.DateTime(required=True, metadata={"description": "When we applied it."})
    asOf = fields.DateTime(allow_none=True, metadata={"description": "The agent's time of the reported status."})
    entity = fields.String(required=True, metadata={
        "enum": ["media_buy", "campaign"],
        "description": "media_buy: one of the campaign's buys; campaign: the campaign itself."})
    field = fields.String(required=True, metadata={
        "enum": ["status", "lifecycleStatus"],
        "description": "As GET campaign names them: a buy's status, or the campaign's `status` (its buys' "
                       "most-restrictive, source rollup) or its `lifecycleStatus` (a buyer's action, source api)."})
    mediaBuyId = fields.String(allow_none=True)
    salesAgentId = fields.String(allow_none=True)
    fromStatus = fields.String(allow_none=True)
    toStatus = fields.String(allow_none=True)
    adcpStatus = fields.String(allow_none=True)
    source = fields.String(required=True, metadata={"enum": [s.value for s in Source]})
    message = fields.String(allow_none=True, metadata={"description": "What the seller said with the report."})


class HistoryPagination(Schema):
    limit = fields.Integer(required=True)
    hasMore = fields.Boolean(required=True)
    nextCursor = HistoryCursor(allow_none=True, metadata={"description": "Pass as ?cursor= for older changes."})


class CampaignHistory(Schema):
    campaignId = fields.String(required=True)
    history = fields.List(fields.Nested(HistoryEntry), required=True)
    pagination = fields.Nested(HistoryPagination, required=True)


class AdvertiserCaps(Schema):
    advertiserId = fields.String(required=True)
    frequencyCaps = fields.List(fields.Nested(FrequencyCap), required=True)


BUY_EXAMPLE = {
    "mediaBuyId": "mb_1f2e3d4c5b6a7980", "campaignId": "cmp_0a1b2c3d4e5f6789", "salesAgentId": "agent_news",
    "adcpMediaBuyId": "sa_news_42", "status": "INPUT_REQUIRED", "adcpStatus": "input-required",
    "statusAsOf": "2027-03-01T09:15:02+00:00",
    "sellerMessage": "Approved; assign creatives to the packages with sync_creatives to start delivery.",
    "lastError": None,
    "optimizationGoals": [{"kind": "metric", "metric": "completed_views", "target": {"kind": "cost_per", "value": 0.08}}],
    "creativeIds": None,
    "delivery": {"impressions": 0, "spend": 0, "clicks": 0, "asOf": None},
    "packages": [{"packageId": "pkg_9a8b7c6d5e4f3021", "adcpPackageId": "sa_news_42_p1", "status": "active",
                  "budget": 6000, "budgetCurrency": "USD", "pacing": "even", "bidPrice": 12.5,
                  "productId": "prod_video", "pacingPeriod": {"index": 0, "label": None},
                  "startTime": "2027-03-01T00:00:00+00:00", "endTime": "2027-03-31T00:00:00+00:00",
                  "delivery": {"impressions": 0, "spend": 0, "clicks": 0}}],
    "submittedAt": "2027-03-01T09:15:00+00:00",
    "createdAt": "2027-03-01T09:14:59+00:00", "updatedAt": "2027-03-01T09:15:02+00:00",
}
PAGE_EXAMPLE = {"mediaBuys": [BUY_EXAMPLE], "pagination": {"limit": 20, "hasMore": True,
                                                           "nextCursor": "WyIyMDI3LTAzLTAxVDA5OjE0OjU5KzAwOjAwIiwgIm1iXzEiXQ"}}
HISTORY_EXAMPLE = {
    "campaignId": "cmp_0a1b2c3d4e5f6789",
    "history": [
        {"at": "2027-03-01T09:15:02+00:00", "asOf": None, "entity": "campaign", "field": "status",
         "mediaBuyId": None,
         "salesAgentId": None, "fromStatus": "PENDING_APPROVAL", "toStatus": "INPUT_REQUIRED", "adcpStatus": None,
         "source": "rollup", "message": None},
        {"at": "2027-03-01T09:15:02+00:00", "asOf": "2027-03-01T09:15:02+00:00", "entity": "media_buy",
         "field": "status", "mediaBuyId": "mb_1f2e3d4c5b6a7980", "salesAgentId": "agent_news", "fromStatus": "PENDING_APPROVAL",
         "toStatus": "INPUT_REQUIRED", "adcpStatus": "input-required", "source": "webhook",
         "message": "Approved; assign creatives to the packages with sync_creatives to start delivery."},
        {"at": "2027-03-01T09:15:00+00:00", "asOf": None, "entity": "campaign", "field": "status",
         "mediaBuyId": None, "salesAgentId": None, "fromStatus": "DRAFT", "toStatus": "ACTIVE", "adcpStatus": None,
         "source": "api", "message": None},
    ],
    "pagination": {"limit": 50, "hasMore": False, "nextCursor": None},
}
CAPS_EXAMPLE = {"advertiserId": "adv_demo", "frequencyCaps": [{"maxImpressions": 3, "per": "day"}]}
