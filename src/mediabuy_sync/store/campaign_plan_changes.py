"""store: what a campaign update changes of its plan — its flight dates and its selected products."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from .db import queries

Q = queries("campaign_plan_changes")


def set_flight(conn: psycopg.Connection, campaign_id: str, start: datetime, end: datetime) -> None:
    conn.execute(Q["set_flight"], {"campaign_id": campaign_id, "flight_start": start, "flight_end": end})


def replace_products(conn: psycopg.Connection, campaign_id: str, products: list[dict]) -> None:
    """A DRAFT's products, replaced (no buys hold them yet)."""
    conn.execute(Q["delete_products"], {"campaign_id": campaign_id})
    add_products(conn, campaign_id, products, first_position=0)


def add_products(conn: psycopg.Connection, campaign_id: str, products: list[dict], first_position: int) -> None:
    """Products as stored rows would hold them ({sales_agent_id, product_id, budget, formats, pacing,
    bid_price, pricing_option_id, pacing_periods (JSON: ISO times)}), after the existing ones."""
    with conn.cursor() as cur:
        cur.executemany(Q["insert_product"], [
            {"campaign_id": campaign_id, "position": first_position + i, "sales_agent_id": p["sales_agent_id"],
             "product_id": p["product_id"], "budget": p["budget"], "pacing": p.get("pacing"),
             "bid_price": p.get("bid_price"), "pricing_option_id": p.get("pricing_option_id"),
             "formats": list(p["formats"]), "pacing_periods": Jsonb(p.get("pacing_periods") or [])}
            for i, p in enumerate(products)
        ])
