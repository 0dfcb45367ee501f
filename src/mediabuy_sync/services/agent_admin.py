"""services: an operator's other changes to a registered agent — another webhook secret (rotation), its
JWKS read again now, disable and enable. The CLI and the admin API both come here; each change is
audited in its own transaction (services/audit.py) and refusals raise agents.AgentError, changing nothing."""

from __future__ import annotations

import secrets as random_secrets

from ..adcp.jwks import JwksError, fetch_jwks
from ..adcp.signatures import HMAC_MIN_SECRET_BYTES, HMAC_SCHEME, RFC9421_SCHEME
from ..config import settings
from ..domain.audit import AuditAction, AuditTarget
from ..store import agents
from ..store.db import transaction
from .agents import AgentError
from .audit import record
from .credentials import everywhere
from . import agent_credentials


def _agent(conn, agent_id: str) -> dict:
    agent = agents.agent_state(conn, agent_id)
    if agent is None:
        raise AgentError(f"no agent {agent_id!r}", "id", status=404)
    return agent


def add_secret(agent_id: str, secret: str | None = None, *, actor: str) -> dict:
    """Another active webhook secret or Bearer token for an HMAC or Bearer agent (rotation: the old one
    stays active until retired). A new random one unless given; it is in this answer only."""
    secret = secret or random_secrets.token_urlsafe(32)
    with transaction() as conn:
        agent = _agent(conn, agent_id)
        if agent["inbound_scheme"] == RFC9421_SCHEME:
            raise AgentError("an RFC 9421 agent has keys, not secrets: refresh its JWKS instead", "scheme", status=409)
        if agent["inbound_scheme"] == HMAC_SCHEME and len(secret.encode()) < HMAC_MIN_SECRET_BYTES:
            raise AgentError(f"an HMAC secret must be at least {HMAC_MIN_SECRET_BYTES} bytes", "secret")
        credential_id = agents.add_secret(conn, agent_id, agent["inbound_scheme"], secret)
        record(conn, actor, AuditAction.AGENT_ADD_SECRET, AuditTarget.AGENT, agent_id,
               {"credential_id": credential_id, "secret": secret})
    return {"agent_id": agent_id, "secret": secret, "credential_id": credential_id}


def refresh_keys(agent_id: str, *, actor: str) -> dict:
    """Read an RFC 9421 agent's JWKS now: new keys become active, keys gone from it are retired (an
    operator asking means it, so unlike the background refresh this may retire every key). Revoked
    keys stay revoked. Answers once every web process has dropped the keys it kept."""
    with transaction() as conn:
        agent = _agent(conn, agent_id)
    if agent["inbound_scheme"] != RFC9421_SCHEME or not agent["jwks_uri"]:
        raise AgentError(f"agent {agent_id!r} is not an RFC 9421 agent with a JWKS URI", "scheme", status=409)
    try:  # outside any transaction: a slow JWKS server holds no connection
        keys = fetch_jwks(agent["jwks_uri"], settings().jwks_fetch_timeout_seconds,
                          allow_http=bool(settings().jwks_allow_http))
    except JwksError as exc:
        raise AgentError(f"the JWKS could not be read: {exc}", "jwks_uri") from None
    heard = agent_credentials.heard(agent_id)
    with transaction() as conn:
        retired = agents.store_jwks(conn, agent_id, keys)
        record(conn, actor, AuditAction.AGENT_REFRESH_KEYS, AuditTarget.AGENT, agent_id,
               {"key_ids": sorted(keys), "retired": retired})
    everywhere(agent_id, heard)
    return {"agent_id": agent_id, "key_ids": sorted(keys), "retired": retired}


def set_disabled(agent_id: str, disabled: bool, *, actor: str) -> dict:
    """Disable an agent (its webhooks refused as from an unknown agent, its buys not polled) or enable it
    again; answers once every web process has heard. Doing it twice changes nothing and is not audited."""
    heard = agent_credentials.heard(agent_id)
    with transaction() as conn:
        _agent(conn, agent_id)
        changed = agents.set_disabled(conn, agent_id, disabled)
        if changed:
            record(conn, actor, AuditAction.AGENT_DISABLE if disabled else AuditAction.AGENT_ENABLE,
                   AuditTarget.AGENT, agent_id)
        state = agents.agent_state(conn, agent_id)
    if changed:
        everywhere(agent_id, heard)
    return {"agent_id": agent_id, "disabled": state["disabled_at"] is not None, "disabled_at": state["disabled_at"],
            "changed": changed}
