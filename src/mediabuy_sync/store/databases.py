"""store: whole databases on a server — made and dropped for local runs, tests and benchmarks."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .db import queries

Q = queries("databases")


def with_database(url: str, db: str) -> str:
    """The same server's URL for another database."""
    return make_conninfo(url, dbname=db)


def create_database(url: str) -> None:
    """Create the database `url` names, if it does not exist yet."""
    db = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        if not conn.execute(Q["exists"], {"name": db}).fetchone():
            # a database's name is an identifier, not a parameter: composed, never formatted
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))


def drop_database(url: str) -> None:
    db = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
