"""Plain SQL migrations, applied in order and recorded in schema_migrations."""

from __future__ import annotations

import re
from importlib import resources

import psycopg
from psycopg.rows import dict_row

from .agents import seal_plaintext_secrets

_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
# Held for the whole upgrade, so two processes migrating at once take turns.
_LOCK_KEY = 0x6D62_7379  # "mbsy"


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text()))
    return sorted(found)


def upgrade(database_url: str) -> list[str]:
    """Apply the migrations not yet applied; return their names. Safe to run again."""
    applied_now = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in available():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
                    )
                applied_now.append(f"{version:04d}_{name}")
            # What SQL cannot do: seal the agent secrets stored in clear before 0006 (a no-op after).
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                if seal_plaintext_secrets(cur):
                    applied_now.append("sealed the agent secrets stored in clear")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
