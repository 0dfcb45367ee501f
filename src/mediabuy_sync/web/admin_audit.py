"""web: the admin audit through the admin API (/admin, Bearer MEDIABUY_ADMIN_TOKEN) — who changed which
agent, advertiser or API key, what, and when; newest first, paged by a cursor."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..domain.audit import AuditAction, AuditTarget
from ..services import audit
from .auth import admin_blueprint
from .schemas import ID_PATTERN, FullMatch, Moment, Strict

bp = admin_blueprint("admin_audit", __name__, description="The admin audit: who changed what, and when.")

TARGET_PATTERN = rf"(?:(?:{'|'.join(t.value for t in AuditTarget)}):)?{ID_PATTERN}"
AUDIT_EXAMPLE = {"data": {"entries": [
    {"id": 42, "at": "2026-12-04T22:31:05+00:00", "actor": "admin-token:1a2b3c4d", "action": "api_key.revoke",
     "target_type": "api_key", "target_id": "key_3f9a1c2b7d4e", "change": {}},
    {"id": 41, "at": "2026-12-04T22:30:00+00:00", "actor": "cli:alice", "action": "agent.register",
     "target_type": "agent", "target_id": "seller_news",
     "change": {"endpoint": "https://seller.example/mcp", "scheme": "hmac-sha256", "secret": True,
                "auth_token": True, "credential_id": 7}}],
    "next_after": 41}, "error": None}


class AuditQuery(Strict):
    target = fields.String(validate=FullMatch(TARGET_PATTERN), metadata={
        "description": "TYPE:ID (agent:seller_news, api_key:key_…, advertiser:adv_…), or an ID of any type."})
    action = fields.String(validate=validate.OneOf([a.value for a in AuditAction]))
    actor = fields.String(validate=validate.Length(min=1, max=255), metadata={
        "description": "e.g. cli:alice or admin-token:1a2b3c4d"})
    since = Moment(metadata={
        "description": "Only changes made at or after this time."})
    after = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1), metadata={
        "description": "The cursor: the next_after of the page before (entries older than it)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=audit.MAX_PAGE))


class AuditEntry(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor = fields.String(required=True, metadata={
        "description": "admin-token:<first 8 hex of the token's SHA-256> (the admin API) or cli:<OS user>."})
    action = fields.String(required=True, metadata={"enum": [a.value for a in AuditAction]})
    target_type = fields.String(required=True, metadata={"enum": [t.value for t in AuditTarget]})
    target_id = fields.String(required=True)
    change = fields.Dict(required=True, metadata={
        "description": "What was asked, without secrets: a secret field says only whether one was set (true/false)."})


class AuditPage(Schema):
    entries = fields.List(fields.Nested(AuditEntry), required=True)
    next_after = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Pass as `after` for the next page; null: this is the last."})


@bp.route("/audit", methods=["GET"])
@bp.arguments(AuditQuery, location="query")
@bp.response(200, AuditPage, example=AUDIT_EXAMPLE)
def list_audit(query: dict):
    """The admin audit, newest first

    Every change to an agent, its credentials or accounts, an advertiser's brand or a buyer API key,
    made through the admin API or the CLI: who, what (without secrets), when. Page with `after`.
    """
    target_type, target_id = None, query.get("target")
    if target_id and ":" in target_id and target_id.split(":", 1)[0] in {t.value for t in AuditTarget}:
        target_type, target_id = target_id.split(":", 1)
    entries, next_after = audit.entries(limit=query["limit"], before_id=query.get("after"), target_type=target_type,
                                        target_id=target_id, action=query.get("action"), actor=query.get("actor"),
                                        since=query.get("since"))
    return {"entries": entries, "next_after": next_after}
