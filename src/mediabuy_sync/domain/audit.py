"""domain: the admin audit — the changes an operator can make, what they are made to, and which of a
change's fields are secrets (never recorded)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    AGENT_REGISTER = "agent.register"
    AGENT_SET_AUTH = "agent.set_auth"
    AGENT_SET_ACCOUNT_MODE = "agent.set_account_mode"
    AGENT_SET_ACCOUNT = "agent.set_account"
    AGENT_REMOVE_ACCOUNT = "agent.remove_account"
    AGENT_ADD_SECRET = "agent.add_secret"
    AGENT_RETIRE_SECRET = "agent.retire_secret"
    AGENT_RETIRE_KEY = "agent.retire_key"
    AGENT_REFRESH_KEYS = "agent.refresh_keys"
    AGENT_DISABLE = "agent.disable"
    AGENT_ENABLE = "agent.enable"
    ADVERTISER_SET_BRAND = "advertiser.set_brand"
    API_KEY_CREATE = "api_key.create"
    API_KEY_REVOKE = "api_key.revoke"


class AuditTarget(StrEnum):
    AGENT = "agent"
    ADVERTISER = "advertiser"
    API_KEY = "api_key"


# Field names whose values are secrets wherever they appear in a change: dropped before it is stored,
# whatever a caller passes (the record says a secret was set, never which).
SECRET_FIELDS = frozenset({"secret", "auth_token", "api_key", "key", "token", "password"})


def without_secrets(change: dict) -> dict:
    """The change as it may be recorded: every secret field, at any depth, replaced by whether it was set."""
    def clean(value):
        if isinstance(value, dict):
            return {k: (v is not None) if k in SECRET_FIELDS else clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return clean(change)
