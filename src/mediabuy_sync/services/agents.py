"""services: registering sales agents — how they sign their webhooks to us (a secret, or the keys of
their JWKS), how we call them (our token, in the header the seller reads) and the seller's account id
for each of our advertisers. The CLI and the admin API both come through here."""

from __future__ import annotations

import re
import secrets as random_secrets
import time
import urllib.parse

from ..adcp.jwks import JwksError, fetch_jwks
from ..adcp.signatures import HMAC_MIN_SECRET_BYTES, HMAC_SCHEME, RFC9421_SCHEME
from ..config import settings
from ..domain.audit import AuditAction, AuditTarget
from ..queue.names import DISCOVER_ACCOUNTS, INTERACTIVE_QUEUE
from ..store import agents, campaigns
from ..store.db import transaction
from .audit import record


DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


class AgentError(ValueError):
    """A registration that can't be made as asked; nothing was changed. `field` names what is wrong."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


def register(agent_id: str, endpoint: str, *, name: str | None = None, protocol: str = "mcp",
             scheme: str = HMAC_SCHEME, secret: str | None = None, jwks_uri: str | None = None,
             auth_token: str | None = None, auth_header: str = "x-adcp-auth",
             account_mode: str = "advertiser_id", hmac_compact_json: bool = False, actor: str) -> dict:
    """Register an agent; returns what the operator must keep: the webhook secret (a new random one
    unless given; HMAC and Bearer) and its credential id, or the key ids fetched from its JWKS (RFC
    9421). `hmac_compact_json`: also accept an HMAC over the compact JSON of the body (a seller that
    signs one byte string and posts another). `actor`: who asks, for the audit. Raises AgentError."""
    if hmac_compact_json and scheme != HMAC_SCHEME:
        raise AgentError("the compact-JSON HMAC is for scheme hmac-sha256 only", "hmac_compact_json")
    _check_auth(auth_token, auth_header, endpoint)
    if account_mode not in agents.ACCOUNT_MODES:
        raise AgentError(f"accounts must be one of {', '.join(agents.ACCOUNT_MODES)}", "account_mode")
    answer = {"agent_id": agent_id, "scheme": scheme, "webhook_path": f"/webhooks/adcp/{agent_id}",
              "auth_header": auth_header if auth_token else None, "account_mode": account_mode}
    # what the audit keeps: the request without its secrets (without_secrets records only that one was set)
    audited = {"name": name or agent_id, "endpoint": endpoint, "protocol": protocol, "scheme": scheme,
               "jwks_uri": jwks_uri, "auth_token": auth_token, "auth_header": auth_header,
               "account_mode": account_mode, "hmac_compact_json": hmac_compact_json}
    with transaction() as conn:
        if agents.get_agent(conn, agent_id) is not None:
            raise AgentError(f"agent {agent_id!r} is registered already", "id", status=409)
    if scheme == RFC9421_SCHEME or jwks_uri:
        if scheme != RFC9421_SCHEME or not jwks_uri or secret:
            raise AgentError("scheme rfc9421 takes a JWKS URI (and no secret); a JWKS URI is for it only", "jwks_uri")
        try:  # fetched now, so a bad URI fails here rather than at the first webhook
            keys = fetch_jwks(jwks_uri, settings().jwks_fetch_timeout_seconds, allow_http=bool(settings().jwks_allow_http))
        except JwksError as exc:
            raise AgentError(str(exc), "jwks_uri") from None
        with transaction() as conn:
            agents.add_agent(conn, agent_id, name or agent_id, endpoint, scheme, protocol, jwks_uri=jwks_uri,
                             auth_token=auth_token, auth_header=auth_header, account_mode=account_mode)
            agents.store_jwks(conn, agent_id, keys)
            record(conn, actor, AuditAction.AGENT_REGISTER, AuditTarget.AGENT, agent_id,
                   {**audited, "key_ids": sorted(keys)})
        return {**answer, "jwks_uri": jwks_uri, "key_ids": sorted(keys)}
    secret = secret or random_secrets.token_urlsafe(32)
    if scheme == HMAC_SCHEME and len(secret.encode()) < HMAC_MIN_SECRET_BYTES:
        raise AgentError(f"an HMAC secret must be at least {HMAC_MIN_SECRET_BYTES} bytes", "secret")
    with transaction() as conn:
        agents.add_agent(conn, agent_id, name or agent_id, endpoint, scheme, protocol, auth_token=auth_token,
                         auth_header=auth_header, account_mode=account_mode)
        credential_id = agents.add_secret(conn, agent_id, scheme, secret)
        if hmac_compact_json:
            agents.set_hmac_compact_json(conn, agent_id, True)
        record(conn, actor, AuditAction.AGENT_REGISTER, AuditTarget.AGENT, agent_id,
               {**audited, "secret": secret, "credential_id": credential_id})
    return {**answer, "secret": secret, "credential_id": credential_id}


def _check_auth(token: str | None, header: str, endpoint: str | None) -> None:
    if header not in agents.AUTH_HEADERS:
        raise AgentError(f"the auth header must be one of {', '.join(agents.AUTH_HEADERS)}", "auth_header")
    if token is not None and (not token.strip() or any(c in token for c in "\r\n")):
        raise AgentError("the auth token must be a non-empty single line", "auth_token")
    if token and endpoint and not _token_safe(endpoint):
        # the ADCP client refuses it too, at every call: say so now
        raise AgentError("our token is sent over https only (plain http to this machine alone, for development): "
                         f"{endpoint!r}", "endpoint")


def _token_safe(endpoint: str) -> bool:
    parts = urllib.parse.urlsplit(endpoint)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))


def set_auth(agent_id: str, token: str | None, header: str = "x-adcp-auth", *, actor: str) -> None:
    """Our token at the seller (None: send none), replacing the one before (rotation)."""
    with transaction() as conn:
        agent = agents.for_calls(conn, agent_id)
    _check_auth(token, header, agent.endpoint_uri if agent else None)
    with transaction() as conn:
        if not agents.set_outbound_auth(conn, agent_id, token, header):
            raise AgentError(f"no agent {agent_id!r}", "id", status=404)
        record(conn, actor, AuditAction.AGENT_SET_AUTH, AuditTarget.AGENT, agent_id,
               {"auth_token": token, "auth_header": header})


def set_account_mode(agent_id: str, mode: str, *, actor: str) -> None:
    if mode not in agents.ACCOUNT_MODES:
        raise AgentError(f"accounts must be one of {', '.join(agents.ACCOUNT_MODES)}", "account_mode")
    with transaction() as conn:
        if not agents.set_account_mode(conn, agent_id, mode):
            raise AgentError(f"no agent {agent_id!r}", "id", status=404)
        record(conn, actor, AuditAction.AGENT_SET_ACCOUNT_MODE, AuditTarget.AGENT, agent_id, {"account_mode": mode})


def set_account(agent_id: str, advertiser_id: str, account_id: str, *, actor: str) -> None:
    """The seller's account id for one of our advertisers, as the operator says (a discovery never
    overwrites it)."""
    if not account_id.strip() or len(account_id) > 255:
        raise AgentError("an account id is 1-255 characters", "account_id")
    with transaction() as conn:
        if agents.get_agent(conn, agent_id) is None:
            raise AgentError(f"no agent {agent_id!r}", "id", status=404)
        agents.set_account(conn, agent_id, advertiser_id, account_id, source="operator")
        record(conn, actor, AuditAction.AGENT_SET_ACCOUNT, AuditTarget.AGENT, agent_id,
               {"advertiser_id": advertiser_id, "account_id": account_id})


def discover_accounts(agent_id: str, publisher, timeout: float) -> list[dict]:
    """Ask the workers to discover the seller's account ids for our branded advertisers (sync_accounts,
    else list_accounts) and wait up to `timeout` seconds; returns the agent's accounts then."""
    before = accounts(agent_id)  # raises AgentError for an unknown agent
    publisher.send_task(DISCOVER_ACCOUNTS, args=[agent_id], queue=INTERACTIVE_QUEUE)  # the caller waits
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = accounts(agent_id)
        if now != before:
            return now
    return accounts(agent_id)


def remove_account(agent_id: str, advertiser_id: str, *, actor: str) -> bool:
    """Forget the advertiser's account at the seller; False (and nothing audited) if there was none."""
    with transaction() as conn:
        removed = agents.remove_account(conn, agent_id, advertiser_id)
        if removed:
            record(conn, actor, AuditAction.AGENT_REMOVE_ACCOUNT, AuditTarget.AGENT, agent_id,
                   {"advertiser_id": advertiser_id})
        return removed


def accounts(agent_id: str) -> list[dict]:
    with transaction() as conn:
        if agents.get_agent(conn, agent_id) is None:
            raise AgentError(f"no agent {agent_id!r}", "id", status=404)
        return agents.accounts_of(conn, agent_id)


def set_brand(advertiser_id: str, domain: str, *, actor: str) -> None:
    """The brand domain the advertiser's buys are for (create_media_buy's brand)."""
    domain = domain.strip().lower()
    if len(domain) > 253 or not DOMAIN.fullmatch(domain):  # ADCP's brand.domain pattern
        raise AgentError("a brand is a domain name (letters, digits, hyphens, dots), e.g. acme.example", "domain")
    with transaction() as conn:
        campaigns.set_advertiser_brand(conn, advertiser_id, domain)
        record(conn, actor, AuditAction.ADVERTISER_SET_BRAND, AuditTarget.ADVERTISER, advertiser_id, {"domain": domain})


def listed() -> list[dict]:
    with transaction() as conn:
        return agents.list_agents(conn)
