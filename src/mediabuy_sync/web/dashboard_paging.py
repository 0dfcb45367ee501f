"""web: the paging and filters of the /ops lists — their query schemas and signed keyset cursors.

A cursor names where the page before ended (its last row's place in the list's order) and is signed
under the admin token: one these pages did not give, or a garbled one, is refused with the
VALIDATION_ERROR envelope of every other bad /ops input, before any query runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode

from marshmallow import fields, post_load, validate

from ..domain.statuses import Status
from ..store.ops_lists import CampaignAfter, CampaignFilter, EventAfter
from .errors import validation_error
from .schemas import AGENT_ID_PATTERN, ID_PATTERN, Strict

PAGE_SIZE = 50  # rows a page shows: a screenful or two, whatever the history kept
FORGED = "Not a cursor these pages gave (or from another admin token): start again from the first page."


class CampaignsQuery(Strict):
    # The filters come from a GET form, which sends its empty fields as "": "" is documented and
    # accepted as "any" (then dropped), so the form needs no script to leave them out.
    status = fields.String(validate=validate.OneOf(["", *(s.value for s in Status)]), metadata={
        "description": "Only campaigns of this surfaced status (the most restrictive of their buys'); empty: any.",
        "example": "INPUT_REQUIRED"})
    agent = fields.String(validate=validate.Regexp(f"^(|{AGENT_ID_PATTERN})$"), metadata={
        "description": "Only campaigns with a media buy at this sales agent (its id); empty: any.",
        "example": "acme_ads"})
    name = fields.String(validate=validate.Length(max=200), metadata={
        "description": "Only campaigns whose name contains this, ignoring case (% and _ match themselves); "
                       "empty: any.", "example": "spring"})
    advertiser = fields.String(validate=validate.Regexp(f"^(|{ID_PATTERN})$"), metadata={
        "description": "Only this advertiser's campaigns; empty: any.", "example": "adv_123"})
    cursor = fields.String(validate=validate.Length(min=1, max=512), metadata={
        "description": "The page after the one whose 'Next page' link gave it (opaque, signed)."})

    @post_load
    def _empty_is_any(self, data, **kwargs):
        return {key: value for key, value in data.items() if value != ""}


class DeadEventsQuery(Strict):
    cursor = fields.String(validate=validate.Length(min=1, max=512), metadata={
        "description": "The page after the one whose 'Next page' link gave it (opaque, signed)."})


def campaign_filter(query: dict) -> CampaignFilter:
    return CampaignFilter(status=query.get("status"), agent=query.get("agent"), name=query.get("name"),
                          advertiser=query.get("advertiser"))


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), ("ops-cursor:" + payload).encode(), hashlib.sha256).hexdigest()[:32]


def encode(key: str, values: list) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(key, payload)}"


def _decode(key: str, cursor: str) -> list:
    payload, _, mac = cursor.partition(".")
    if not hmac.compare_digest(mac.encode(), _sign(key, payload).encode()):
        raise validation_error({"query": {"cursor": [FORGED]}})
    try:
        values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise validation_error({"query": {"cursor": [FORGED]}}) from None
    if not isinstance(values, list):
        raise validation_error({"query": {"cursor": [FORGED]}})
    return values


def campaign_cursor(key: str, row: dict) -> str:
    return encode(key, ["c", row["blocked"], row["updated_at"].isoformat(), row["id"]])


def campaign_after(key: str, cursor: str | None) -> CampaignAfter | None:
    if cursor is None:
        return None
    values = _decode(key, cursor)
    try:  # signed by us, so well formed; checked all the same (a cursor of the other list, say)
        kind, blocked, updated_at, campaign_id = values
        moment = datetime.fromisoformat(updated_at)
    except (TypeError, ValueError):
        raise validation_error({"query": {"cursor": [FORGED]}}) from None
    if kind != "c" or not isinstance(blocked, bool) or not isinstance(campaign_id, str) or moment.tzinfo is None:
        raise validation_error({"query": {"cursor": [FORGED]}})
    return CampaignAfter(blocked, moment, campaign_id)


def event_cursor(key: str, row: dict) -> str:
    return encode(key, ["e", row["received_at"].isoformat(), row["id"]])


def event_after(key: str, cursor: str | None) -> EventAfter | None:
    if cursor is None:
        return None
    values = _decode(key, cursor)
    try:
        kind, received_at, event_id = values
        moment = datetime.fromisoformat(received_at)
    except (TypeError, ValueError):
        raise validation_error({"query": {"cursor": [FORGED]}}) from None
    if kind != "e" or type(event_id) is not int or moment.tzinfo is None:
        raise validation_error({"query": {"cursor": [FORGED]}})
    return EventAfter(moment, event_id)


def link(path: str, query: dict, cursor: str | None = None) -> str:
    """The page at `path` with these filters (and this cursor): what the paging links point at."""
    params = {k: v for k, v in query.items() if k != "cursor" and v not in (None, "")}
    if cursor:
        params["cursor"] = cursor
    return path + ("?" + urlencode(params) if params else "")


