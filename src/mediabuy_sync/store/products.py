"""store: each seller's catalogue — the products its get_products listed, and when it was last read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from .db import queries

Q = queries("products")


@dataclass
class Catalogue:
    agent_id: str
    fetched_at: datetime | None  # None: never read
    error: str | None  # why the last read failed
    products: dict[str, dict] = field(default_factory=dict)  # product id → the product as listed


def replace(conn: psycopg.Connection, agent_id: str, products: list[dict]) -> None:
    """The agent's catalogue is now exactly these products (each with a product_id)."""
    conn.execute(Q["delete_catalogue"], {"agent_id": agent_id})
    with conn.cursor() as cur:
        cur.executemany(Q["insert_product"], [{"agent_id": agent_id, "product_id": p["product_id"], "product": Jsonb(p)}
                                              for p in products])
    conn.execute(Q["catalogue_read"], {"agent_id": agent_id})


def read_failed(conn: psycopg.Connection, agent_id: str, error: str) -> None:
    conn.execute(Q["catalogue_failed"], {"agent_id": agent_id, "error": error[:1000]})


def catalogues(conn: psycopg.Connection, agent_ids: list[str]) -> dict[str, Catalogue]:
    """The catalogues of these (registered) agents."""
    found = {row["agent_id"]: Catalogue(row["agent_id"], row["products_fetched_at"], row["products_error"])
             for row in conn.execute(Q["catalogue_state"], {"agent_ids": agent_ids})}
    for row in conn.execute(Q["products_of"], {"agent_ids": agent_ids}):
        found[row["agent_id"]].products[row["product_id"]] = row["product"]
    return found
