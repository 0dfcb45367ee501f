"""services: the agents' webhook credentials as the web verifies with them — read from PostgreSQL, and
kept in each web process for a few seconds for HMAC and Bearer agents.

Why: the read was one PostgreSQL round trip, an aggregate query and a Fernet decryption per webhook,
for credentials that only ever grow (a secret is added for a rotation, never taken away while the
old one is in use). Why it is safe: a signature that fails against the kept credentials is checked
again against fresh ones, so a secret added a moment ago works at once; RFC 9421 agents are never
kept (a key that leaves the agent's JWKS must stop working at once, and their nonce is written in a
transaction anyway). What can lag by up to CACHE_SECONDS: an agent's scheme changed in the database
by hand.
"""

from __future__ import annotations

import threading
import time

from ..adcp.signatures import RFC9421_SCHEME, InboundAuth
from ..store import agents
from ..store.db import autocommit

CACHE_SECONDS = 5.0

_kept: dict[str, tuple[float, InboundAuth]] = {}  # agent id → (read at, credentials); registered agents only
_lock = threading.Lock()


def lookup(agent_id: str, fresh: bool = False) -> tuple[InboundAuth | None, bool]:
    """(the agent's credentials or None if no such agent, whether they were kept rather than read now)."""
    now = time.monotonic()
    if not fresh:
        kept = _kept.get(agent_id)
        if kept is not None and now - kept[0] < CACHE_SECONDS:
            return kept[1], True
    with autocommit() as conn:
        found = agents.inbound_credentials(conn, agent_id)
    auth = None if found is None else InboundAuth(found.agent_id, found.scheme, found.secrets, found.public_jwks)
    with _lock:
        if auth is not None and auth.scheme != RFC9421_SCHEME:
            _kept[agent_id] = (now, auth)
        else:
            _kept.pop(agent_id, None)
    return auth, False
