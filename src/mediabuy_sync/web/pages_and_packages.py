"""web: what the buyer's campaign reads (web/campaigns.py) and media-buy reads (web/media_buys.py) both
use — the page cursor of their lists, and a package as their answers show it."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime

from marshmallow import ValidationError, fields

from .schemas import ID_PATTERN


class Cursor(fields.String):
    """An opaque page cursor: the (created_at, id) of the last campaign of the previous page."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        created_at, campaign_id = value
        raw = json.dumps([created_at.isoformat(), campaign_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            created_at, campaign_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            moment = datetime.fromisoformat(created_at)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
            raise ValidationError("Not a cursor this API gave.") from None
        if moment.tzinfo is None or not isinstance(campaign_id, str) or not re.fullmatch(ID_PATTERN, campaign_id):
            raise ValidationError("Not a cursor this API gave.")
        return moment, campaign_id


def package_answer(p: dict) -> dict:
    """A package row (store's campaign and buy reads) as the buyer API answers it."""
    return {
        "packageId": p["id"],
        "adcpPackageId": p["adcp_package_id"],
        "status": p["status"],
        "budget": p["budget"],
        "budgetCurrency": p["currency"],
        "pacing": p["pacing"],
        "bidPrice": p["bid_price"],
        "productId": p["product_id"],
        "pacingPeriod": {"index": p["pacing_period_index"], "label": p["pacing_period_label"]},
        "startTime": p["start_time"],
        "endTime": p["end_time"],
        "delivery": {"impressions": p["impressions"], "spend": p["spend"], "clicks": p["clicks"]},
    }
