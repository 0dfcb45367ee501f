"""web: buyer API keys through the admin API (/admin, Bearer MEDIABUY_ADMIN_TOKEN) — create one (the key
is in that answer only) and list them (never the key). Revoking one is admin_credentials.py's
(POST /admin/api-keys/{key_id}/revoke). Every change is audited as the admin token (services/audit.py)."""

from __future__ import annotations

from marshmallow import Schema, fields

from ..services import api_keys
from .auth import admin_blueprint, current_admin
from .schemas import ID_PATTERN, FullMatch, Strict

bp = admin_blueprint("admin_api_keys", __name__, description="Buyer API keys: create (shown once) and list.")

CREATE_EXAMPLE = {"advertiser_id": "adv_acme", "name": "acme-dashboard"}
CREATED_EXAMPLE = {"data": {"key_id": "key_3f9a1c2b7d4e", "advertiser_id": "adv_acme", "name": "acme-dashboard",
                            "api_key": "mbsk_q3Jx…"}, "error": None}
LISTED_EXAMPLE = {"data": [{"id": "key_3f9a1c2b7d4e", "advertiser_id": "adv_acme", "name": "acme-dashboard",
                            "created_at": "2026-12-04T22:30:00+00:00", "revoked_at": None}], "error": None}


class CreateKey(Strict):
    advertiser_id = fields.String(required=True, validate=FullMatch(ID_PATTERN), metadata={
        "description": "The one advertiser the key sees (as `apikeys create --advertiser`)."})
    name = fields.String(load_default="", validate=FullMatch(r"[^\x00-\x1f\x7f]{0,255}"), metadata={
        "description": "A label for people: who or what uses the key."})


class CreatedKey(Schema):
    key_id = fields.String(required=True, metadata={"description": "To revoke it, and in the audit."})
    advertiser_id = fields.String(required=True)
    name = fields.String(required=True)
    api_key = fields.String(required=True, metadata={
        "description": "The key: shown in this answer only (stored as its SHA-256); send it as Bearer."})


class KeysQuery(Strict):
    advertiser_id = fields.String(validate=FullMatch(ID_PATTERN), metadata={"description": "One advertiser's keys."})
    include_revoked = fields.Boolean(load_default=True)


class ApiKey(Schema):
    id = fields.String(required=True)
    advertiser_id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True)


@bp.route("/api-keys", methods=["POST"])
@bp.arguments(CreateKey, example=CREATE_EXAMPLE)
@bp.response(201, CreatedKey, example=CREATED_EXAMPLE)
@bp.alt_response(422, "VALIDATION_ERROR")
def create_key(body: dict):
    """Create a buyer API key for one advertiser

    The key is in this answer only: it is stored as its SHA-256 and never shown again. Audited
    (api_key.create, without the key).
    """
    return api_keys.create(body["advertiser_id"], body["name"], actor=current_admin()), 201


@bp.route("/api-keys", methods=["GET"])
@bp.arguments(KeysQuery, location="query")
@bp.response(200, ApiKey(many=True), example=LISTED_EXAMPLE)
def list_keys(query: dict):
    """The buyer API keys, newest first (never the keys themselves)"""
    return api_keys.listed(query.get("advertiser_id"), query["include_revoked"])
