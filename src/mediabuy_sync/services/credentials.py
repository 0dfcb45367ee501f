"""services: revoking credentials — an agent's HMAC secret or Bearer token, an RFC 9421 key, a buyer
API key. The CLI and the admin API (web/admin_credentials.py) both come here.

Effective at once in every web process: API keys are read afresh by every request; an agent's
credentials are kept a few seconds per process but dropped by the NOTIFY that the commit fires
(migration 0020's trigger, agent_credentials.py), and at once in the calling process.
"""

from __future__ import annotations

import logging

from ..domain.audit import AuditAction, AuditTarget
from ..store import agents, api_keys
from ..store.db import transaction
from . import agent_credentials
from .audit import record

log = logging.getLogger(__name__)


class NotFound(Exception):
    """No such agent, credential or key — or it was revoked already."""


def list_for(agent_id: str) -> list[dict]:
    """The agent's credentials as an operator sees them (id, kind, key id, active, dates; no secret)."""
    with transaction() as conn:
        if agents.get_agent(conn, agent_id) is None:
            raise NotFound(f"No sales agent {agent_id!r} is registered.")
        return agents.credentials_of(conn, agent_id)


def retire_secret(agent_id: str, credential_id: int, *, actor: str) -> None:
    """Revoke an HMAC secret or Bearer token of the agent now."""
    heard = agent_credentials.heard(agent_id)
    with transaction() as conn:
        if not agents.retire_secret(conn, agent_id, credential_id):
            raise NotFound(f"Agent {agent_id!r} has no active secret or token {credential_id}.")
        record(conn, actor, AuditAction.AGENT_RETIRE_SECRET, AuditTarget.AGENT, agent_id, {"credential_id": credential_id})
    everywhere(agent_id, heard)


def retire_key(agent_id: str, key_id: str, *, actor: str) -> None:
    """Revoke an RFC 9421 key of the agent now, for good (a JWKS still listing it does not bring it back;
    a webhook signed with it is answered webhook_signature_key_revoked)."""
    heard = agent_credentials.heard(agent_id)
    with transaction() as conn:
        if not agents.retire_key(conn, agent_id, key_id):
            raise NotFound(f"Agent {agent_id!r} has no unrevoked key {key_id!r}.")
        record(conn, actor, AuditAction.AGENT_RETIRE_KEY, AuditTarget.AGENT, agent_id, {"key_id": key_id})
    everywhere(agent_id, heard)


def everywhere(agent_id: str, heard: int) -> None:
    """After the commit: dropped here at once; in a web process, wait (1 s at most) for the commit's
    own notification to come back, so that the answer follows its delivery to every process."""
    agent_credentials.forget(agent_id)
    if agent_credentials.listening() and not agent_credentials.wait_heard(agent_id, heard, 1.0):
        log.warning("revocation for %s committed, its notification not heard back within 1 s", agent_id)


def revoke_api_key(key_id: str, *, actor: str) -> None:
    """Revoke a buyer API key now: every request reads its key afresh, so no process keeps it."""
    with transaction() as conn:
        if not api_keys.revoke_key(conn, key_id):
            raise NotFound(f"No unrevoked API key {key_id!r}.")
        record(conn, actor, AuditAction.API_KEY_REVOKE, AuditTarget.API_KEY, key_id)
