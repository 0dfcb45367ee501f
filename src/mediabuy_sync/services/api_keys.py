"""services: buyer API keys as an operator manages them — create (the key shown once, stored as its
SHA-256), list (never the key). Revocation is services/credentials.py's, with the agents' secrets.
The CLI (`apikeys …`) and the admin API (web/admin_api_keys.py) both come here, and both are audited."""

from __future__ import annotations

from ..domain.audit import AuditAction, AuditTarget
from ..store import api_keys
from ..store.db import transaction
from .audit import record


def create(advertiser_id: str, name: str = "", *, actor: str) -> dict:
    """A new key for one advertiser: {key_id, advertiser_id, name, api_key}. The key is in this answer only."""
    with transaction() as conn:
        key_id, key = api_keys.create_key(conn, advertiser_id, name)
        record(conn, actor, AuditAction.API_KEY_CREATE, AuditTarget.API_KEY, key_id,
               {"advertiser_id": advertiser_id, "name": name})
    return {"key_id": key_id, "advertiser_id": advertiser_id, "name": name, "api_key": key}


def listed(advertiser_id: str | None = None, include_revoked: bool = True) -> list[dict]:
    """Every key (or one advertiser's), newest first: id, name, advertiser, created, revoked."""
    with transaction() as conn:
        return api_keys.list_keys(conn, advertiser_id, include_revoked)
