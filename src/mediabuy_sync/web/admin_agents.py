"""web: the admin API for sales agents (/admin, Bearer MEDIABUY_ADMIN_TOKEN) — register one, list them,
set our token at a seller, the seller's account id for each advertiser, an advertiser's brand."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..adcp.signatures import BEARER_SCHEME, HMAC_SCHEME, RFC9421_SCHEME
from ..config import settings
from ..queue.publisher import publisher
from ..services import agents
from ..store.agents import ACCOUNT_MODES, AUTH_HEADERS
from .auth import admin_blueprint, current_admin
from .errors import ApiError, answer
from .schemas import AGENT_ID_PATTERN, FullMatch, Strict, Text

bp = admin_blueprint("admin_agents", __name__,
                     description="Sales agents: register, list, our credentials at each seller, accounts, brands.")

REGISTER_EXAMPLE = {"id": "seller_news", "endpoint": "https://seller.example/mcp", "scheme": "hmac-sha256",
                    "auth_token": "tok_from_the_seller", "auth_header": "x-adcp-auth", "account_mode": "seller"}


class RegisterAgent(Strict):
    id = fields.String(required=True, validate=FullMatch(AGENT_ID_PATTERN))
    endpoint = Text(2048, required=True, metadata={"description": "The agent's ADCP endpoint (MCP or A2A)."})
    name = Text()
    protocol = fields.String(load_default="mcp", validate=validate.OneOf(("mcp", "a2a")))
    scheme = fields.String(load_default=HMAC_SCHEME, validate=validate.OneOf((HMAC_SCHEME, BEARER_SCHEME, RFC9421_SCHEME)),
                           metadata={"description": "How the agent signs its webhooks to us."})
    secret = Text(1024, metadata={"description": "hmac-sha256 / bearer: the webhook secret (default: a new random one)."})
    jwks_uri = Text(2048, metadata={"description": "rfc9421: the agent's JWKS, fetched now."})
    auth_token = Text(4096, metadata={"description": "Our token at the seller, sent with every call (stored sealed)."})
    auth_header = fields.String(load_default="x-adcp-auth", validate=validate.OneOf(AUTH_HEADERS), metadata={
        "description": "x-adcp-auth: the raw token (ADCP's default); authorization: Bearer <token>."})
    account_mode = fields.String(load_default="advertiser_id", validate=validate.OneOf(ACCOUNT_MODES), metadata={
        "description": "seller: the seller assigns account ids (set each advertiser's); advertiser_id: it takes ours."})
    hmac_compact_json = fields.Boolean(load_default=False, metadata={
        "description": "hmac-sha256: also accept a signature over the compact JSON of the body (a seller that "
                       "signs one byte string and posts another; counted)."})


class Registered(Schema):
    agent_id = fields.String(required=True)
    scheme = fields.String(required=True)
    webhook_path = fields.String(required=True)
    auth_header = fields.String(allow_none=True)
    account_mode = fields.String(required=True)
    secret = fields.String(metadata={"description": "The webhook secret: shown once, give it to the agent."})
    credential_id = fields.Integer(metadata={"description": "The secret's id (to retire it later)."})
    jwks_uri = fields.String()
    key_ids = fields.List(fields.String())


class Agent(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    endpoint_uri = fields.String(required=True)
    protocol = fields.String(required=True)
    inbound_scheme = fields.String(required=True)
    active_credentials = fields.Integer(required=True)
    has_auth_token = fields.Boolean(required=True)
    outbound_auth_header = fields.String(required=True)
    account_mode = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    disabled_at = fields.DateTime(allow_none=True, metadata={
        "description": "Set while the agent is disabled (POST /admin/agents/{agent_id}/disable)."})


class SetAuth(Strict):
    auth_token = Text(4096, required=True, allow_none=True, metadata={"description": "null: send no token."})
    auth_header = fields.String(load_default="x-adcp-auth", validate=validate.OneOf(AUTH_HEADERS))


class SetAccount(Strict):
    account_id = Text(255, required=True, metadata={"description": "The seller's account id for the advertiser."})


class Account(Schema):
    advertiser_id = fields.String(required=True)
    account_id = fields.String(required=True)
    source = fields.String(required=True, metadata={"enum": ["operator", "discovered"]})
    updated_at = fields.DateTime(required=True)


class SetBrand(Strict):
    domain = Text(253, required=True, metadata={"description": "The brand's domain, e.g. acme.example."})


@bp.errorhandler(agents.AgentError)
def refused(exc: agents.AgentError):
    """Every view here lets the service's refusal rise: it answers as the error envelope."""
    code = {404: "NOT_FOUND", 409: "CONFLICT"}.get(exc.status, "VALIDATION_ERROR")
    return answer(ApiError(exc.status, code, exc.message, field=exc.field))


@bp.route("/agents", methods=["POST"])
@bp.arguments(RegisterAgent, example=REGISTER_EXAMPLE)
@bp.response(201, Registered)
@bp.alt_response(409, "CONFLICT")
@bp.alt_response(422, "VALIDATION_ERROR")
def register(body: dict):
    """Register a sales agent

    How it signs its webhooks to us (a secret, shown once, or its JWKS, fetched now), and how we call
    it: our token at the seller and the header it goes in, and how the seller names accounts.
    """
    registered = agents.register(body["id"], body["endpoint"], name=body.get("name"), protocol=body["protocol"],
                                 scheme=body["scheme"], secret=body.get("secret"), jwks_uri=body.get("jwks_uri"),
                                 auth_token=body.get("auth_token"), auth_header=body["auth_header"],
                                 account_mode=body["account_mode"], hmac_compact_json=body["hmac_compact_json"],
                                 actor=current_admin())
    return registered, 201


@bp.route("/agents", methods=["GET"])
@bp.response(200, Agent(many=True))
def list_agents():
    """The sales agents (no secret or token is ever shown)"""
    return agents.listed()


@bp.route("/agents/<id:agent_id>/auth", methods=["PUT"])
@bp.arguments(SetAuth)
@bp.response(204)
@bp.alt_response(404, "NOT_FOUND")
def set_auth(body: dict, agent_id: str):
    """Set our token at a seller

    Replaces the one before (rotation); null sends none. Stored sealed, never shown or logged.
    """
    agents.set_auth(agent_id, body["auth_token"], body["auth_header"], actor=current_admin())


@bp.route("/agents/<id:agent_id>/accounts", methods=["GET"])
@bp.response(200, Account(many=True))
@bp.alt_response(404, "NOT_FOUND")
def list_accounts(agent_id: str):
    """The seller's account id for each advertiser"""
    return agents.accounts(agent_id)


@bp.route("/agents/<id:agent_id>/accounts/discover", methods=["POST"])
@bp.response(200, Account(many=True))
@bp.alt_response(404, "NOT_FOUND")
def discover_accounts(agent_id: str):
    """Discover the seller's account ids for our advertisers

    For each advertiser with a brand, the seller's account for that brand (sync_accounts, which makes
    one where missing; else list_accounts), through a worker; answers the agent's accounts then. An
    operator's mapping is never replaced.
    """
    return agents.discover_accounts(agent_id, publisher, settings().status_query_deadline_seconds)


@bp.route("/agents/<id:agent_id>/accounts/<id:advertiser_id>", methods=["PUT"])
@bp.arguments(SetAccount)
@bp.response(204)
@bp.alt_response(404, "NOT_FOUND")
def set_account(body: dict, agent_id: str, advertiser_id: str):
    """Set the seller's account id for an advertiser

    Every call for the advertiser's media buys at this seller sends it as `account`.
    """
    agents.set_account(agent_id, advertiser_id, body["account_id"], actor=current_admin())


@bp.route("/agents/<id:agent_id>/accounts/<id:advertiser_id>", methods=["DELETE"])
@bp.response(204)
@bp.alt_response(404, "NOT_FOUND")
def remove_account(agent_id: str, advertiser_id: str):
    """Forget the advertiser's account at this seller"""
    if not agents.remove_account(agent_id, advertiser_id, actor=current_admin()):
        raise ApiError(404, "NOT_FOUND", f"No account of {advertiser_id!r} at {agent_id!r}.")


@bp.route("/advertisers/<id:advertiser_id>/brand", methods=["PUT"])
@bp.arguments(SetBrand)
@bp.response(204)
def set_brand(body: dict, advertiser_id: str):
    """Set the brand an advertiser's media buys are for (create_media_buy's brand.domain)"""
    agents.set_brand(advertiser_id, body["domain"], actor=current_admin())
