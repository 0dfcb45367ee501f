"""store: plain SQL migrations, applied in order and recorded in schema_migrations."""

from __future__ import annotations

import re
from importlib import resources

import psycopg
from psycopg.rows import dict_row

from ..config import settings
from .agents import seal_plaintext_outbound_auth, seal_plaintext_secrets
from .db import queries
from .partitions import ensure_ahead

Q = queries("migrate")

_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
# Held for the whole upgrade, so two processes migrating at once take turns.
_LOCK_KEY = 0x6D62_7379  # "mbsy"
# Migrations that need Python in their own transaction: 0029 makes the inbox and the ledger
# partitioned tables, which accept no row until the partition for today exists.
_THEN = {29: lambda conn: ensure_ahead(conn, settings().partitions_ahead_days)}


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text()))
    return sorted(found)


def upgrade(database_url: str, to: int | None = None) -> list[str]:
    """Apply the migrations not yet applied (up to version `to`, if given); return their names. Safe to
    run again. `to` lets an operator take a long step on its own (docs/data-lifecycle.md)."""
    applied_now = []
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(Q["lock"], {"key": _LOCK_KEY})
        try:
            conn.execute(Q["create_ledger"])
            done = {row["version"] for row in conn.execute(Q["applied"])}
            for version, name, sql in available():
                if version in done or (to is not None and version > to):
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    if version in _THEN:
                        _THEN[version](conn)
                    conn.execute(Q["record"], {"version": version, "name": name})
                applied_now.append(f"{version:04d}_{name}")
            # What SQL cannot do: seal the agent secrets stored in clear before 0006, and the outbound
            # tokens before 0010 (no-ops after).
            with conn.transaction():
                if seal_plaintext_secrets(conn):
                    applied_now.append("sealed the agent secrets stored in clear")
                if seal_plaintext_outbound_auth(conn):
                    applied_now.append("sealed the outbound agent tokens stored in clear")
                # and the partitions ahead, should beat have been down longer than they reach
                if created := ensure_ahead(conn, settings().partitions_ahead_days):
                    applied_now.append(f"created partitions {', '.join(created)}")
        finally:
            conn.execute(Q["unlock"], {"key": _LOCK_KEY})
    return applied_now
