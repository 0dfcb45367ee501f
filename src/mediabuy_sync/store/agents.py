"""Sales agents and the credentials they authenticate their webhooks with."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from .db import queries

Q = queries("agents")


def add_agent(
    conn: psycopg.Connection,
    agent_id: str,
    name: str,
    endpoint_uri: str,
    inbound_scheme: str,
    protocol: str = "mcp",
    outbound_auth: dict | None = None,
) -> None:
    conn.execute(
        Q["insert_agent"],
        {
            "id": agent_id,
            "name": name,
            "endpoint_uri": endpoint_uri,
            "protocol": protocol,
            "inbound_scheme": inbound_scheme,
            "outbound_auth": Jsonb(outbound_auth) if outbound_auth is not None else None,
        },
    )


def add_secret(conn: psycopg.Connection, agent_id: str, kind: str, secret: str) -> int:
    """An active HMAC secret or Bearer token; older ones stay active until retired (rotation)."""
    params = {"agent_id": agent_id, "kind": kind, "key_id": None, "secret": secret, "public_jwk": None}
    return conn.execute(Q["insert_credential"], params).fetchone()["id"]


def list_agents(conn: psycopg.Connection) -> list[dict]:
    return conn.execute(Q["list_agents"]).fetchall()
