"""web: the rest of an agent's upkeep through the admin API (/admin, Bearer MEDIABUY_ADMIN_TOKEN) —
another webhook secret (rotation), its JWKS or its catalogue read again now, disable and enable.
What the CLI's `agents add-secret`, `refresh-keys`, `products --refresh`, `disable` and `enable` do,
through the same services; changes are audited as the admin token."""

from __future__ import annotations

from marshmallow import Schema, fields

from ..config import settings
from ..queue.publisher import publisher
from ..services import agent_admin, agents, products
from .admin_agents import refused
from .auth import admin_blueprint, current_admin
from .errors import ApiError
from .schemas import Strict, Text

bp = admin_blueprint("admin_agent_upkeep", __name__,
                     description="Sales agents' upkeep: another secret, JWKS and catalogue refresh, disable and enable.")
bp.errorhandler(agents.AgentError)(refused)

ADD_SECRET_EXAMPLE = {"secret": None}


class AddSecret(Strict):
    secret = Text(1024, allow_none=True, load_default=None, metadata={
        "description": "The new secret or Bearer token (default, or null: a new random one)."})


class SecretAdded(Schema):
    agent_id = fields.String(required=True)
    secret = fields.String(required=True, metadata={"description": "Shown once: give it to the agent."})
    credential_id = fields.Integer(required=True, metadata={"description": "Its id (to retire it later)."})


class KeysRefreshed(Schema):
    agent_id = fields.String(required=True)
    key_ids = fields.List(fields.String(), required=True, metadata={"description": "The JWKS's keys, now active."})
    retired = fields.List(fields.String(), required=True, metadata={"description": "Keys gone from it, now retired."})


class CatalogueRead(Schema):
    agent_id = fields.String(required=True)
    fetched_at = fields.DateTime(allow_none=True, metadata={"description": "When it was last read (null: never)."})
    error = fields.String(allow_none=True, metadata={"description": "Why the last read failed, if it did."})
    product_ids = fields.List(fields.String(), required=True)


class AgentState(Schema):
    agent_id = fields.String(required=True)
    disabled = fields.Boolean(required=True)
    disabled_at = fields.DateTime(allow_none=True)
    changed = fields.Boolean(required=True, metadata={"description": "false: it was so already (nothing audited)."})


@bp.route("/agents/<id:agent_id>/credentials", methods=["POST"])
@bp.arguments(AddSecret, example=ADD_SECRET_EXAMPLE)
@bp.response(201, SecretAdded, example={"data": {"agent_id": "seller_news", "secret": "Zq8…", "credential_id": 8},
                                        "error": None})
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(409, "CONFLICT")
@bp.alt_response(422, "VALIDATION_ERROR")
def add_secret(body: dict, agent_id: str):
    """Add another webhook secret or Bearer token to an agent (rotation)

    Both stay active until the old one is retired (POST …/credentials/{credential_id}/retire). The
    secret is in this answer only. An RFC 9421 agent has keys instead: 409.
    """
    return agent_admin.add_secret(agent_id, body["secret"], actor=current_admin()), 201


@bp.route("/agents/<id:agent_id>/keys/refresh", methods=["POST"])
@bp.response(200, KeysRefreshed, example={"data": {"agent_id": "seller_signed", "key_ids": ["k2026"],
                                                    "retired": ["k2025"]}, "error": None})
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(409, "CONFLICT")
@bp.alt_response(422, "VALIDATION_ERROR")
def refresh_keys(agent_id: str):
    """Read an RFC 9421 agent's JWKS now

    New keys become active, keys gone from it are retired (in every web process by the answer);
    revoked keys stay revoked. 422 (field jwks_uri) if it cannot be read; nothing changes then.
    """
    return agent_admin.refresh_keys(agent_id, actor=current_admin())


@bp.route("/agents/<id:agent_id>/products/refresh", methods=["POST"])
@bp.response(200, CatalogueRead, example={"data": {"agent_id": "seller_news", "fetched_at": "2026-12-04T22:30:00+00:00",
                                                   "error": None, "product_ids": ["prod_video"]}, "error": None})
@bp.alt_response(404, "NOT_FOUND")
def refresh_products(agent_id: str):
    """Read a seller's catalogue now (get_products, through a worker)

    Waits for it up to the status query deadline, then answers the catalogue as it is (read, or the
    read's error). Not audited: it changes no setting, only what the seller says it sells.
    """
    found = products.read_now(agent_id, publisher, settings().status_query_deadline_seconds)
    if found is None:
        raise ApiError(404, "NOT_FOUND", f"No sales agent {agent_id!r} is registered.")
    return {"agent_id": agent_id, "fetched_at": found.fetched_at, "error": found.error,
            "product_ids": sorted(found.products)}


def _set_disabled(agent_id: str, disabled: bool) -> dict:
    return agent_admin.set_disabled(agent_id, disabled, actor=current_admin())


@bp.route("/agents/<id:agent_id>/disable", methods=["POST"])
@bp.response(200, AgentState, example={"data": {"agent_id": "seller_news", "disabled": True,
                                                "disabled_at": "2026-12-04T22:30:00+00:00", "changed": True},
                                       "error": None})
@bp.alt_response(404, "NOT_FOUND")
def disable(agent_id: str):
    """Disable a sales agent

    From the answer on, every web process refuses its webhooks (as from an unknown agent, 404), its
    buys are not polled and a new campaign naming it is refused; nothing is deleted, and actions on
    campaigns made before still reach it. Enable it again with POST …/enable.
    """
    return _set_disabled(agent_id, True)


@bp.route("/agents/<id:agent_id>/enable", methods=["POST"])
@bp.response(200, AgentState, example={"data": {"agent_id": "seller_news", "disabled": False, "disabled_at": None,
                                                "changed": True}, "error": None})
@bp.alt_response(404, "NOT_FOUND")
def enable(agent_id: str):
    """Enable a disabled sales agent again (its webhooks accepted, its buys polled)"""
    return _set_disabled(agent_id, False)
