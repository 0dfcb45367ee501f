"""web: the buyer API's webhook subscriptions (/api/v2/buyer/advertisers/<id>/webhook-subscriptions) —
notifications to the buyer's own systems when a campaign or a media buy changes, signed as Standard
Webhooks; each delivery and its attempts listed, and replayable. A key acts for its advertiser only."""

from __future__ import annotations

from flask import url_for
from marshmallow import Schema, fields, validate

from ..domain.notifications import DeliveryState, EventType, SubscriptionState
from ..services import webhook_subscriptions as subscriptions
from ..services.webhook_subscriptions import Refused
from ..store.db import transaction
from .auth import buyer_blueprint, current_advertiser
from .errors import ApiError
from .schemas import Count, Moment, Strict, Text

bp = buyer_blueprint("webhook_subscriptions", __name__,
                     description="Notifications to your systems: webhook subscriptions, their deliveries, replay.")

PATH = "/advertisers/<id:advertiser_id>/webhook-subscriptions"
EVENT_TYPES = [str(t) for t in EventType]


# --- schemas ---------------------------------------------------------------------------------------------


class CreateWebhookSubscription(Strict):
    url = Text(2048, required=True, metadata={"description": "Where we POST: https:// (plain http only to "
                                                            "this machine, for development)."})
    eventTypes = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(min=1, max=len(EVENT_TYPES)),
                             metadata={"description": "The events to send; all of them when omitted."})
    description = Text(255, allow_none=True)


class WebhookSubscription(Schema):
    id = fields.String(required=True)
    advertiserId = fields.String(required=True, attribute="advertiser_id")
    url = fields.String(required=True)
    eventTypes = fields.List(fields.String(), required=True, attribute="event_types")
    description = fields.String(allow_none=True)
    state = fields.String(required=True, metadata={"enum": [str(s) for s in SubscriptionState],
                                                   "description": "disabled: its receiver answered 410 Gone; nothing more is sent."})
    disabledReason = fields.String(allow_none=True, attribute="disabled_reason")
    disabledAt = fields.DateTime(allow_none=True, attribute="disabled_at")
    createdAt = fields.DateTime(required=True, attribute="created_at")


class CreatedWebhookSubscription(WebhookSubscription):
    secret = fields.String(required=True, metadata={
        "description": "whsec_ + base64 of the HMAC key. Shown this once: keep it to verify webhook-signature."})


class NotificationDeliveryQuery(Strict):
    limit = Count(load_default=50, validate=validate.Range(min=1, max=100))
    before = Count(validate=validate.Range(min=1, max=subscriptions.BIGINT_MAX),
                   metadata={"description": "The last id of the previous page (newest first)."})
    state = fields.String(validate=validate.OneOf([str(s) for s in DeliveryState]))


class NotificationAttempt(Schema):
    at = fields.DateTime(required=True, attribute="attempted_at")
    statusCode = fields.Integer(allow_none=True, attribute="status_code")
    error = fields.String(allow_none=True)
    durationMs = fields.Integer(required=True, attribute="duration_ms")


class NotificationDelivery(Schema):
    id = fields.Integer(required=True)
    eventId = fields.String(required=True, attribute="event_id", metadata={"description": "Sent as webhook-id."})
    eventType = fields.String(required=True, attribute="event_type")
    campaignId = fields.String(required=True, attribute="campaign_id")
    eventCreatedAt = fields.DateTime(required=True, attribute="event_created_at")
    data = fields.Raw(required=True, attribute="payload", metadata={"type": "object"})
    state = fields.String(required=True, metadata={"enum": [str(s) for s in DeliveryState]})
    attemptCount = fields.Integer(required=True, attribute="attempts")
    nextAttemptAt = fields.DateTime(allow_none=True, attribute="next_attempt_at")
    lastStatus = fields.Integer(allow_none=True, attribute="last_status")
    lastError = fields.String(allow_none=True, attribute="last_error")
    deliveredAt = fields.DateTime(allow_none=True, attribute="delivered_at")
    attempts = fields.List(fields.Nested(NotificationAttempt), required=True, attribute="attempt_log")


class ReplayDeliveries(Strict):
    since = Moment(required=True)
    until = Moment(required=True)
    states = fields.List(fields.String(validate=validate.OneOf([str(s) for s in DeliveryState])),
                         validate=validate.Length(min=1, max=len(DeliveryState)),
                         metadata={"description": "Deliveries in these states only; default [\"failed\"]."})


class ReplayedDeliveries(Schema):
    subscriptionId = fields.String(required=True)
    deliveryIds = fields.List(fields.Integer(), required=True)


# --- examples ----------------------------------------------------------------------------------------------

CREATE_EXAMPLE = {"url": "https://hooks.buyer.example/mediabuy", "eventTypes": ["campaign.status_changed", "campaign.unhealthy"],
                  "description": "our campaign tracker"}
SUBSCRIPTION_EXAMPLE = {"id": "whsub_5f0c9a1e2b3d4c6f", "advertiserId": "adv_demo", "url": "https://hooks.buyer.example/mediabuy",
                        "eventTypes": ["campaign.status_changed", "campaign.unhealthy"], "description": "our campaign tracker",
                        "state": "active", "disabledReason": None, "disabledAt": None, "createdAt": "2026-12-04T22:00:00+00:00"}
CREATED_EXAMPLE = {**SUBSCRIPTION_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
DELIVERY_EXAMPLE = {
    "id": 42, "eventId": "msg_3b1f6a0c9d8e7f6a5b4c3d2e", "eventType": "campaign.status_changed", "campaignId": "cmp_1",
    "eventCreatedAt": "2026-12-04T22:01:00+00:00",
    "data": {"advertiserId": "adv_demo", "campaignId": "cmp_1", "previousStatus": "PENDING_APPROVAL", "status": "ACTIVE",
             "blockerCount": 2, "blockers": ["mb_1", "mb_2"]},
    "state": "delivered", "attemptCount": 2, "nextAttemptAt": "2026-12-04T22:01:31+00:00", "lastStatus": 200,
    "lastError": None, "deliveredAt": "2026-12-04T22:01:31+00:00",
    "attempts": [{"at": "2026-12-04T22:01:00+00:00", "statusCode": 503, "error": "HTTP 503", "durationMs": 41},
                 {"at": "2026-12-04T22:01:31+00:00", "statusCode": 200, "error": None, "durationMs": 18}]}
REPLAY_RANGE_EXAMPLE = {"since": "2026-12-04T00:00:00Z", "until": "2026-12-05T00:00:00Z", "states": ["failed"]}


def _envelope(data) -> dict:
    return {"data": data, "error": None}


# --- views -------------------------------------------------------------------------------------------------


def _mine(advertiser_id: str) -> None:
    if advertiser_id != current_advertiser():
        raise ApiError(403, "FORBIDDEN", "This API key cannot see or change another advertiser's webhook subscriptions.")


def _refused(exc: Refused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, field=exc.field)


@bp.route(PATH, methods=["POST"])
@bp.arguments(CreateWebhookSubscription, example=CREATE_EXAMPLE)
@bp.response(201, CreatedWebhookSubscription, example=_envelope(CREATED_EXAMPLE),
             headers={"Location": {"description": "The subscription's URL.", "schema": {"type": "string"}}})
@bp.alt_response(403, "FORBIDDEN")
@bp.alt_response(409, "CONFLICT")
def create_subscription(body: dict, advertiser_id: str):
    """Subscribe to notifications

    We POST each event of `eventTypes` to `url`, signed as Standard Webhooks (webhook-id,
    webhook-timestamp, webhook-signature) with the `secret` answered here — once: it is stored sealed
    and never shown again. A delivery that fails is retried with backoff for hours; a 410 Gone
    disables the subscription.
    """
    _mine(advertiser_id)
    try:
        with transaction() as conn:
            created = subscriptions.create(conn, advertiser_id, body["url"], body.get("eventTypes"), body.get("description"))
    except Refused as exc:
        raise _refused(exc) from None
    return created, 201, {"Location": url_for("webhook_subscriptions.get_subscription", advertiser_id=advertiser_id,
                                              subscription_id=created["id"])}


@bp.route(PATH, methods=["GET"])
@bp.response(200, WebhookSubscription(many=True), example=_envelope([SUBSCRIPTION_EXAMPLE]))
@bp.alt_response(403, "FORBIDDEN")
def list_subscriptions(advertiser_id: str):
    """List your webhook subscriptions

    Oldest first; the secrets are not shown.
    """
    _mine(advertiser_id)
    with transaction() as conn:
        return subscriptions.list_for(conn, advertiser_id)


@bp.route(PATH + "/<id:subscription_id>", methods=["GET"])
@bp.response(200, WebhookSubscription, example=_envelope(SUBSCRIPTION_EXAMPLE))
@bp.alt_response(403, "FORBIDDEN")
def get_subscription(advertiser_id: str, subscription_id: str):
    """Read a webhook subscription

    `state` is `disabled` (with `disabledReason`) once its receiver answered 410 Gone.
    """
    _mine(advertiser_id)
    try:
        with transaction() as conn:
            return subscriptions.get(conn, advertiser_id, subscription_id)
    except Refused as exc:
        raise _refused(exc) from None


@bp.route(PATH + "/<id:subscription_id>", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(403, "FORBIDDEN")
def delete_subscription(advertiser_id: str, subscription_id: str):
    """Delete a webhook subscription

    Nothing more is sent to it, and its deliveries' history goes with it.
    """
    _mine(advertiser_id)
    try:
        with transaction() as conn:
            subscriptions.delete(conn, advertiser_id, subscription_id)
    except Refused as exc:
        raise _refused(exc) from None


@bp.route(PATH + "/<id:subscription_id>/deliveries", methods=["GET"])
@bp.arguments(NotificationDeliveryQuery, location="query")
@bp.response(200, NotificationDelivery(many=True), example=_envelope([DELIVERY_EXAMPLE]))
@bp.alt_response(403, "FORBIDDEN")
def list_deliveries(query: dict, advertiser_id: str, subscription_id: str):
    """List a subscription's deliveries and their attempts

    Newest first, `limit` (at most 100) per page; the next page with `before` = the last id. Each
    delivery is one event to this subscription: its state (pending, delivered, failed, canceled),
    the event's `data`, and every attempt (when, the status code or the error, how long it took).
    """
    _mine(advertiser_id)
    try:
        with transaction() as conn:
            return subscriptions.deliveries(conn, advertiser_id, subscription_id, query["limit"], query.get("before"),
                                            query.get("state"))
    except Refused as exc:
        raise _refused(exc) from None


@bp.route(PATH + "/<id:subscription_id>/deliveries/<int:delivery_id>/replay", methods=["POST"])
@bp.response(202, ReplayedDeliveries, example=_envelope({"subscriptionId": "whsub_5f0c9a1e2b3d4c6f", "deliveryIds": [42]}))
@bp.alt_response(403, "FORBIDDEN")
@bp.alt_response(409, "CONFLICT")
def replay_delivery(advertiser_id: str, subscription_id: str, delivery_id: int):
    """Replay a delivery

    Sent again now, whatever its state, with the same webhook-id (a receiver that had it can tell)
    and a fresh round of retries. 409 when the subscription is disabled.
    """
    _mine(advertiser_id)
    try:
        with transaction() as conn:
            subscriptions.replay(conn, advertiser_id, subscription_id, delivery_id)
    except Refused as exc:
        raise _refused(exc) from None
    return {"subscriptionId": subscription_id, "deliveryIds": [delivery_id]}


@bp.route(PATH + "/<id:subscription_id>/deliveries/replay", methods=["POST"])
@bp.arguments(ReplayDeliveries, example=REPLAY_RANGE_EXAMPLE)
@bp.response(202, ReplayedDeliveries, example=_envelope({"subscriptionId": "whsub_5f0c9a1e2b3d4c6f", "deliveryIds": [40, 41, 42]}))
@bp.alt_response(403, "FORBIDDEN")
@bp.alt_response(409, "CONFLICT")
def replay_range(body: dict, advertiser_id: str, subscription_id: str):
    """Replay the deliveries of a time range

    The deliveries of events made in [since, until) in `states` (default failed), at most 1000, are
    sent again now with a fresh round of retries.
    """
    _mine(advertiser_id)
    try:
        with transaction() as conn:
            ids = subscriptions.replay_between(conn, advertiser_id, subscription_id, body["since"], body["until"],
                                               body.get("states"))
    except Refused as exc:
        raise _refused(exc) from None
    return {"subscriptionId": subscription_id, "deliveryIds": ids}
