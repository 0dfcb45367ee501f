"""web: revoking credentials through the admin API (/admin, Bearer MEDIABUY_ADMIN_TOKEN) — an agent's
secret or token, an RFC 9421 key, a buyer API key; effective at once in every web process
(services/credentials.py)."""

from __future__ import annotations

from marshmallow import Schema, fields

from ..services import credentials
from .auth import admin_blueprint, current_admin
from .errors import ApiError, answer

bp = admin_blueprint("admin_credentials", __name__, description="Revoke agents' secrets and keys, and buyer API keys.")


class Credential(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "hmac-sha256, bearer or jwk"})
    key_id = fields.String(allow_none=True, metadata={"description": "An RFC 9421 key's kid."})
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    retired_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class Revoked(Schema):
    revoked = fields.Boolean(required=True)


@bp.errorhandler(credentials.NotFound)
def _not_found(exc: credentials.NotFound):
    """Every view here lets the service's NotFound rise: it answers 404 in the error envelope."""
    return answer(ApiError(404, "NOT_FOUND", str(exc)))


@bp.route("/agents/<id:agent_id>/credentials", methods=["GET"])
@bp.response(200, Credential(many=True))
@bp.alt_response(404, "NOT_FOUND")
def list_credentials(agent_id: str):
    """An agent's webhook credentials (never the secrets themselves)"""
    return credentials.list_for(agent_id)


@bp.route("/agents/<id:agent_id>/credentials/<int:credential_id>/retire", methods=["POST"])
@bp.response(200, Revoked)
@bp.alt_response(404, "NOT_FOUND")
def retire_secret(agent_id: str, credential_id: int):
    """Revoke an agent's HMAC secret or Bearer token, at once

    Every web process refuses it from the moment this answers.
    """
    credentials.retire_secret(agent_id, credential_id, actor=current_admin())
    return {"revoked": True}


@bp.route("/agents/<id:agent_id>/keys/<id:key_id>/retire", methods=["POST"])
@bp.response(200, Revoked)
@bp.alt_response(404, "NOT_FOUND")
def retire_key(agent_id: str, key_id: str):
    """Revoke an RFC 9421 key of an agent, at once and for good

    Webhooks signed with it answer 401 webhook_signature_key_revoked, even if the agent's JWKS still lists it.
    """
    credentials.retire_key(agent_id, key_id, actor=current_admin())
    return {"revoked": True}


@bp.route("/api-keys/<id:key_id>/revoke", methods=["POST"])
@bp.response(200, Revoked)
@bp.alt_response(404, "NOT_FOUND")
def revoke_api_key(key_id: str):
    """Revoke a buyer API key, at once"""
    credentials.revoke_api_key(key_id, actor=current_admin())
    return {"revoked": True}
