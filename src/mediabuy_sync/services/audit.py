"""services: the admin audit — who changed what, and when. Every service that changes an agent, its
credentials or accounts, an advertiser's brand or a buyer API key calls `record` inside the change's
own transaction: the row exists if and only if the change committed (a refusal writes neither).

Who: the edges say. The admin API: "admin-token:<first 8 hex of the token's SHA-256>" (one token, so
this only tells it from the CLI and from a rotated token: enough to find which credential did it,
without storing anything that helps guess it). The CLI: "cli:<OS user>".
"""

from __future__ import annotations

import getpass
import hashlib
import os
from datetime import datetime

import psycopg

from ..domain.audit import AuditAction, AuditTarget, without_secrets
from ..store import audit as store
from ..store.db import transaction

MAX_PAGE = 500


def record(conn: psycopg.Connection, actor: str, action: AuditAction, target_type: AuditTarget, target_id: str,
           change: dict | None = None) -> int:
    """Write the audit row in the caller's transaction; secrets are dropped from `change` whatever it holds."""
    return store.insert(conn, actor, action, target_type, target_id, without_secrets(change or {}))


def admin_token_actor(token: str) -> str:
    """The admin API's caller as the audit names it: a fingerprint of the token, never the token."""
    return "admin-token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def cli_actor() -> str:
    """The CLI's caller: the OS user running it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def entries(*, limit: int = 100, before_id: int | None = None, target_type: str | None = None,
            target_id: str | None = None, action: str | None = None, actor: str | None = None,
            since: datetime | None = None) -> tuple[list[dict], int | None]:
    """A page of the audit, newest first, and the cursor of the next page (None: this was the last)."""
    limit = max(1, min(limit, MAX_PAGE))
    with transaction() as conn:
        rows = store.entries(conn, limit=limit + 1, before_id=before_id, target_type=target_type,
                             target_id=target_id, action=action, actor=actor, since=since)
    return rows[:limit], (rows[limit - 1]["id"] if len(rows) > limit else None)
