"""store: sales agents, the credentials they sign their webhooks with, and where we call them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from .db import queries
from .secretbox import open_sealed, reseal, seal

Q = queries("agents")


# Where our token goes in each call to a seller: the raw token in x-adcp-auth (ADCP's default), or
# `Authorization: Bearer <token>` for sellers that take that instead.
AUTH_HEADERS = ("x-adcp-auth", "authorization")
# How a seller names accounts: it takes our advertiser id, or it assigns its own (a mapping each).
ACCOUNT_MODES = ("advertiser_id", "seller")


def add_agent(
    conn: psycopg.Connection,
    agent_id: str,
    name: str,
    endpoint_uri: str,
    inbound_scheme: str,
    protocol: str = "mcp",
    jwks_uri: str | None = None,
    auth_token: str | None = None,
    auth_header: str = "x-adcp-auth",
    account_mode: str = "advertiser_id",
) -> None:
    conn.execute(
        Q["insert_agent"],
        {
            "id": agent_id,
            "name": name,
            "endpoint_uri": endpoint_uri,
            "protocol": protocol,
            "inbound_scheme": inbound_scheme,
            "jwks_uri": jwks_uri,
            "token_sealed": seal(auth_token) if auth_token else None,
            "header": auth_header,
            "account_mode": account_mode,
        },
    )


def set_outbound_auth(conn: psycopg.Connection, agent_id: str, token: str | None, header: str) -> bool:
    """Our token at the seller (sealed; None: we send none) and its header; False if no such agent."""
    params = {"agent_id": agent_id, "token_sealed": seal(token) if token else None, "header": header}
    return conn.execute(Q["set_outbound_auth"], params).fetchone() is not None


def seal_plaintext_outbound_auth(conn: psycopg.Connection) -> int:
    """Seal the outbound tokens stored as plain JSON before migration 0010 ({"type", "token"}); returns
    how many. A "bearer" type meant `Authorization: Bearer`."""
    rows = conn.execute(Q["plaintext_outbound_auth"]).fetchall()
    for row in rows:
        auth = row["outbound_auth"] or {}
        header = "authorization" if auth.get("type") == "bearer" else "x-adcp-auth"
        set_outbound_auth(conn, row["id"], auth.get("token"), header)
    return len(rows)


def add_secret(conn: psycopg.Connection, agent_id: str, kind: str, secret: str) -> int:
    """An active HMAC secret or Bearer token, stored sealed; older ones stay active until retired (rotation)."""
    params = {"agent_id": agent_id, "kind": kind, "key_id": None, "secret_sealed": seal(secret), "public_jwk": None}
    return conn.execute(Q["insert_credential"], params).fetchone()["id"]


def seal_plaintext_secrets(conn: psycopg.Connection) -> int:
    """Seal the secrets stored in clear before migration 0006 (SQL cannot); returns how many.
    Needs MEDIABUY_SECRETS_KEY only when there are some."""
    rows = conn.execute(Q["plaintext_secrets"]).fetchall()
    for row in rows:
        conn.execute(Q["store_sealed"], {"id": row["id"], "secret_sealed": seal(row["secret"])})
    return len(rows)


def reseal_secrets(conn: psycopg.Connection) -> int:
    """Seal every stored secret and outbound token again with the first key of MEDIABUY_SECRETS_KEY
    (key rotation: after this, the older keys can be dropped); returns how many."""
    rows = conn.execute(Q["sealed_secrets"]).fetchall()
    for row in rows:
        conn.execute(Q["store_sealed"], {"id": row["id"], "secret_sealed": reseal(row["secret_sealed"])})
    tokens = conn.execute(Q["sealed_outbound_tokens"]).fetchall()
    for row in tokens:
        conn.execute(Q["store_sealed_outbound_token"],
                     {"id": row["id"], "token_sealed": reseal(row["outbound_token_sealed"])})
    return len(rows) + len(tokens)


def get_agent(conn: psycopg.Connection, agent_id: str) -> dict | None:
    return conn.execute(Q["get_agent"], {"agent_id": agent_id}).fetchone()


def store_jwks(conn: psycopg.Connection, agent_id: str, keys: Mapping[str, dict]) -> list[str]:
    """Make `keys` (by kid) the agent's active RFC 9421 keys; returns the key ids retired."""
    for key_id, jwk in keys.items():
        conn.execute(Q["upsert_jwk"], {"agent_id": agent_id, "key_id": key_id, "public_jwk": Jsonb(jwk)})
    rows = conn.execute(Q["retire_missing_jwks"], {"agent_id": agent_id, "key_ids": list(keys)}).fetchall()
    return sorted(row["key_id"] for row in rows)


def active_jwks(conn: psycopg.Connection, agent_id: str) -> dict[str, dict]:
    return {row["key_id"]: row["public_jwk"] for row in conn.execute(Q["active_jwks"], {"agent_id": agent_id})}


def claim_jwks_refresh(conn: psycopg.Connection, agent_id: str, interval_seconds: float) -> str | None:
    """The agent's JWKS URI if this caller is the one to fetch it now; None within the interval."""
    row = conn.execute(Q["claim_jwks_refresh"], {"agent_id": agent_id, "interval": interval_seconds}).fetchone()
    return row["jwks_uri"] if row else None


def list_agents(conn: psycopg.Connection) -> list[dict]:
    return conn.execute(Q["list_agents"]).fetchall()


@dataclass(frozen=True)
class InboundCredentials:
    """What an agent's webhooks are verified with: its scheme, active secrets (opened), active public keys."""

    agent_id: str
    scheme: str
    secrets: tuple[str, ...]
    public_jwks: dict[str, dict]
    hmac_compact_json: bool = False
    revoked_key_ids: frozenset[str] = frozenset()


def inbound_credentials(conn: psycopg.Connection, agent_id: str) -> InboundCredentials | None:
    """One round trip (the webhook path); None when no such agent is registered."""
    row = conn.execute(Q["inbound_credentials"], {"agent_id": agent_id}).fetchone()
    if row is None:
        return None
    secrets = tuple(open_sealed(sealed) for sealed in row["sealed_secrets"])
    return InboundCredentials(row["id"], row["inbound_scheme"], secrets, row["public_jwks"], row["hmac_compact_json"],
                              frozenset(row["revoked_key_ids"]))


@dataclass(frozen=True)
class CallTarget:
    """How we call a seller: where, over which protocol, with which token (opened) in which header."""

    agent_id: str
    endpoint_uri: str
    protocol: str
    auth_token: str | None
    auth_header: str


def for_calls(conn: psycopg.Connection, agent_id: str) -> CallTarget | None:
    row = conn.execute(Q["agent_for_calls"], {"agent_id": agent_id}).fetchone()
    if row is None:
        return None
    token = open_sealed(row["outbound_token_sealed"]) if row["outbound_token_sealed"] else None
    return CallTarget(row["id"], row["endpoint_uri"], row["protocol"], token, row["outbound_auth_header"])


# --- accounts: the seller's id for each of our advertisers ---------------------------------------------


def set_account_mode(conn: psycopg.Connection, agent_id: str, mode: str) -> bool:
    return conn.execute(Q["set_account_mode"], {"agent_id": agent_id, "mode": mode}).fetchone() is not None


def set_account(conn: psycopg.Connection, agent_id: str, advertiser_id: str, account_id: str,
                source: str = "operator") -> None:
    """The seller's account id for the advertiser. A discovered one never replaces an operator's."""
    conn.execute(Q["set_account"], {"agent_id": agent_id, "advertiser_id": advertiser_id, "account_id": account_id,
                                    "source": source})


def remove_account(conn: psycopg.Connection, agent_id: str, advertiser_id: str) -> bool:
    return conn.execute(Q["remove_account"], {"agent_id": agent_id, "advertiser_id": advertiser_id}).fetchone() is not None


def accounts_of(conn: psycopg.Connection, agent_id: str) -> list[dict]:
    """{advertiser_id, account_id, source, updated_at} of the agent, by advertiser."""
    return conn.execute(Q["accounts_of_agent"], {"agent_id": agent_id}).fetchall()


def accounts_for_calls(conn: psycopg.Connection, advertiser_id: str, agent_ids: list[str]) -> dict[str, str | None]:
    """{agent id: the account id to send for this advertiser}: the seller's when it assigns its own
    (None while there is no mapping), else our advertiser id."""
    rows = conn.execute(Q["accounts_for_calls"], {"advertiser_id": advertiser_id, "agent_ids": agent_ids})
    return {row["agent_id"]: (row["account_id"] if row["account_mode"] == "seller" else row["account_id"] or advertiser_id)
            for row in rows}


def push_credentials(conn: psycopg.Connection, agent_ids: list[str]) -> dict[str, dict]:
    """{agent id: {inbound_scheme, credential_id}} — what each agent's push config names."""
    return {row["id"]: row for row in conn.execute(Q["push_credentials"], {"agent_ids": agent_ids})}


# Revocation (issue 20): effective in every web process when the transaction commits (migration 0020's
# trigger notifies them). Each returns whether something was revoked now.

def credentials_of(conn: psycopg.Connection, agent_id: str) -> list[dict]:
    return conn.execute(Q["credentials_of"], {"agent_id": agent_id}).fetchall()


def retire_secret(conn: psycopg.Connection, agent_id: str, credential_id: int) -> bool:
    params = {"agent_id": agent_id, "credential_id": credential_id}
    return conn.execute(Q["retire_secret"], params).fetchone() is not None


def retire_key(conn: psycopg.Connection, agent_id: str, key_id: str) -> bool:
    return conn.execute(Q["retire_key"], {"agent_id": agent_id, "key_id": key_id}).fetchone() is not None


def set_hmac_compact_json(conn: psycopg.Connection, agent_id: str, on: bool) -> bool:
    return conn.execute(Q["set_hmac_compact_json"], {"agent_id": agent_id, "on": on}).fetchone() is not None


def set_disabled(conn: psycopg.Connection, agent_id: str, disabled: bool) -> bool:
    """Disable or enable the agent; False if it is unknown or already so."""
    return conn.execute(Q["set_disabled"], {"agent_id": agent_id, "disabled": disabled}).fetchone() is not None


def agent_state(conn: psycopg.Connection, agent_id: str) -> dict | None:
    """id, inbound scheme, JWKS URI and disabled_at (None: enabled)."""
    return conn.execute(Q["agent_state"], {"agent_id": agent_id}).fetchone()
