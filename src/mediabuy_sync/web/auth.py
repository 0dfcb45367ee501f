"""web: who is calling — buyer API keys (one advertiser each) and the admin token.

A buyer module makes its blueprint with `buyer_blueprint(…)`: every request to it is authenticated
before the view runs, `current_advertiser()` is the key's advertiser, and the OpenAPI document shows
the security scheme and the 401 on each operation.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import g, request

from ..config import settings
from ..services.audit import admin_token_actor
from ..store import api_keys
from ..store.db import transaction
from .api import ADMIN_SECURITY, BUYER_SECURITY, ApiBlueprint
from .errors import ApiError

BUYER_PREFIX = "/api/v2/buyer"


def _bearer() -> str | None:
    scheme, _, presented = (request.headers.get("Authorization") or "").partition(" ")
    presented = presented.strip()
    return presented if scheme.lower() == "bearer" and presented else None


def require_api_key() -> None:
    """before_request: the buyer's API key, else 401. Sets g.advertiser_id."""
    key = _bearer()
    if key is None:
        raise ApiError(401, "UNAUTHORIZED", "Send your API key as Authorization: Bearer <key>.",
                       headers={"WWW-Authenticate": "Bearer"})
    with transaction() as conn:
        advertiser_id = api_keys.advertiser_for(conn, key)
    if advertiser_id is None:
        raise ApiError(401, "UNAUTHORIZED", "The API key is not valid.",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.advertiser_id = advertiser_id


def current_advertiser() -> str:
    """The advertiser of the request's API key (only inside a buyer blueprint's request)."""
    return g.advertiser_id


def require_admin_token() -> None:
    """before_request: MEDIABUY_ADMIN_TOKEN as a Bearer token; 403 while none is configured."""
    token = settings().admin_token
    if not token:
        raise ApiError(403, "FORBIDDEN", "The admin endpoints are disabled: MEDIABUY_ADMIN_TOKEN is not set.")
    presented = _bearer()
    if presented is None:
        raise ApiError(401, "UNAUTHORIZED", "Send the admin token as Authorization: Bearer <token>.",
                       headers={"WWW-Authenticate": "Bearer"})
    # compare digests: constant time whatever the lengths
    if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), hashlib.sha256(token.encode()).digest()):
        raise ApiError(401, "UNAUTHORIZED", "The admin token is not valid.",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.admin_actor = admin_token_actor(token)


def current_admin() -> str:
    """Who the audit says made an admin request's change (only inside an admin blueprint's request)."""
    return g.admin_actor


def buyer_blueprint(name: str, import_name: str, description: str = "") -> ApiBlueprint:
    """A blueprint under /api/v2/buyer whose every request carries a valid API key."""
    bp = ApiBlueprint(name, import_name, url_prefix=BUYER_PREFIX, description=description, security=BUYER_SECURITY)
    bp.before_request(require_api_key)
    return bp


def admin_blueprint(name: str, import_name: str, description: str = "") -> ApiBlueprint:
    """A blueprint under /admin whose every request carries the admin token."""
    bp = ApiBlueprint(name, import_name, url_prefix="/admin", description=description, security=ADMIN_SECURITY)
    bp.before_request(require_admin_token)
    return bp
