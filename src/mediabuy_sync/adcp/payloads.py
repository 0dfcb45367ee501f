"""adcp: marshmallow schemas for the ADCP MCP webhook payload, with `result` validated by task_type.

Unknown fields are kept: the protocol allows them, and newer agents send more than we read.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from .protocol import (
    CREATIVE_ACTIONS,
    CREATIVE_STATUSES,
    DELIVERY_NOTIFICATION_TYPES,
    DELIVERY_STATUSES,
    MEDIA_BUY_STATUSES,
    MEDIA_BUY_TASKS,
    TASK_STATUSES,
    TASK_TYPES,
)

_ID_CHARS = validate.Regexp(r"^[A-Za-z0-9_.:-]+\Z", error="Only letters, digits and _ . : - are allowed.")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class Totals(_Open):
    impressions = fields.Integer(validate=validate.Range(min=0))
    spend = fields.Float(validate=validate.Range(min=0))
    clicks = fields.Integer(validate=validate.Range(min=0))


class PackageDelivery(Totals):
    package_id = fields.String(required=True, validate=validate.Length(min=1, max=255))


class MediaBuyDelivery(_Open):
    media_buy_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    totals = fields.Nested(Totals)
    by_package = fields.List(fields.Nested(PackageDelivery))


class DeliveryResult(_Open):
    notification_type = fields.String(validate=validate.OneOf(DELIVERY_NOTIFICATION_TYPES))
    media_buy_deliveries = fields.List(fields.Nested(MediaBuyDelivery), required=True)


class AdcpError(_Open):
    code = fields.String()
    message = fields.String()


class MediaBuyResult(_Open):
    """create_media_buy / update_media_buy results: 3.2 says media_buy_status, 3.0/3.1 say status."""

    media_buy_id = fields.String(validate=validate.Length(min=1, max=255))
    media_buy_status = fields.String(validate=validate.OneOf(MEDIA_BUY_STATUSES))
    status = fields.String(validate=validate.OneOf(MEDIA_BUY_STATUSES))
    errors = fields.List(fields.Nested(AdcpError))


class CreativeResult(_Open):
    creative_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    action = fields.String(validate=validate.OneOf(CREATIVE_ACTIONS))
    status = fields.String(validate=validate.OneOf(CREATIVE_STATUSES))
    assigned_to = fields.List(fields.String(validate=validate.Length(min=1, max=255)))
    assignment_errors = fields.Dict(keys=fields.String(), values=fields.String())
    errors = fields.List(fields.Nested(AdcpError))


class SyncCreativesResult(_Open):
    creatives = fields.List(fields.Nested(CreativeResult))
    errors = fields.List(fields.Nested(AdcpError))


# Instances, made once: a marshmallow schema deep-copies its fields when made, which per webhook was
# a tenth of the web's CPU for one (bench/profile_web.py, and cProfile on the route).
RESULT_SCHEMAS: dict[str, Schema] = {
    "create_media_buy": MediaBuyResult(),
    "update_media_buy": MediaBuyResult(),
    "media_buy_delivery": DeliveryResult(),
    "sync_creatives": SyncCreativesResult(),
}


class WebhookPayload(_Open):
    idempotency_key = fields.String(
        required=True,
        validate=[validate.Length(min=16, max=255), _ID_CHARS],
    )
    # Required by the protocol, but some agents omit it: we correlate by media buy id or task id then.
    operation_id = fields.String(validate=validate.Length(max=255))
    task_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    task_type = fields.String(required=True, validate=validate.OneOf(TASK_TYPES))
    status = fields.String(required=True, validate=validate.OneOf(TASK_STATUSES))
    timestamp = fields.AwareDateTime(required=True, format="iso")
    notification_id = fields.String(validate=[validate.Length(min=1, max=255), _ID_CHARS])
    protocol = fields.String()
    message = fields.String()
    context_id = fields.String()
    token = fields.String()
    result = fields.Dict()

    @validates_schema(skip_on_field_errors=False)
    def _result_by_task_type(self, data, **kwargs):
        schema = RESULT_SCHEMAS.get(data.get("task_type"))
        result = data.get("result")
        if schema is not None and result is not None:
            errors = schema.validate(result)
            if errors:
                raise ValidationError({"result": errors})
        if data.get("task_type") == "media_buy_delivery" and result is None and data.get("status") == "completed":
            raise ValidationError({"result": ["A completed delivery report carries its deliveries."]})


_payload_schema = WebhookPayload()


def load_webhook(document: object) -> dict:
    """The validated payload; raises marshmallow.ValidationError naming every bad field."""
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["The webhook body must be a JSON object."]})
    return _payload_schema.load(document)


__all__ = ["MEDIA_BUY_TASKS", "ValidationError", "load_webhook"]
