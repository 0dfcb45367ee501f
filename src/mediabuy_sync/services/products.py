"""services: the sellers' catalogues — read from each seller's get_products by the workers, kept for
MEDIABUY_PRODUCTS_TTL_SECONDS, and what a campaign's products are checked against at create and at
execute (unknown product, format or pricing option refused; the pricing option taken from the product).

A seller whose catalogue we have never read, or that lists no products (the polite simulated sellers
take any), is not checked: the buyer's own pricing option goes as it is.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import psycopg

from ..config import settings
from ..domain.products import check, read_product
from ..queue.names import INTERACTIVE_QUEUE, REFRESH_PRODUCTS
from ..store import products as store
from ..store.db import transaction

log = logging.getLogger(__name__)


def check_plan(conn: psycopg.Connection, planned: list[dict]) -> tuple[dict[str, list[str]], dict[int, str | None]]:
    """Campaign products ({sales_agent_id, product_id, formats, pricing_option_id?, bid_price?}) against
    their sellers' catalogues: ({"products.<i>.<field>": [why]}, {i: the pricing option to send})."""
    catalogues = store.catalogues(conn, sorted({p["sales_agent_id"] for p in planned}))
    errors: dict[str, list[str]] = {}
    options: dict[int, str | None] = {}
    for i, p in enumerate(planned):
        catalogue = catalogues.get(p["sales_agent_id"])
        if catalogue is None or not catalogue.products:  # never read, or the seller lists none: not checked
            options[i] = p.get("pricing_option_id")
            continue
        raw = catalogue.products.get(p["product_id"])
        why, options[i] = check(p, read_product(raw) if raw else None, p["sales_agent_id"])
        for field, message in why.items():
            errors.setdefault(f"products.{i}.{field}", []).append(message)
    return errors, options


def stale(conn: psycopg.Connection, agent_ids: list[str]) -> list[str]:
    """Of these agents, those whose catalogue was never read or is older than its time to live."""
    horizon = datetime.now(timezone.utc) - timedelta(seconds=settings().products_ttl_seconds)
    found = store.catalogues(conn, agent_ids)
    return sorted(a for a, c in found.items() if c.fetched_at is None or c.fetched_at < horizon)


def request_refresh(agent_ids: list[str], publisher) -> None:
    """Ask the workers to read these catalogues again (never fails the caller: a stale one stays in use)."""
    try:
        for agent_id in agent_ids:
            publisher.send_task(REFRESH_PRODUCTS, args=[agent_id])
    except Exception as exc:  # noqa: BLE001 - the next create or execute asks again
        log.warning("catalogue refresh of %s not queued (%s)", agent_ids, exc)


def catalogue(agent_id: str) -> store.Catalogue | None:
    with transaction() as conn:
        return store.catalogues(conn, [agent_id]).get(agent_id)


def read_now(agent_id: str, publisher, timeout: float) -> store.Catalogue | None:
    """Ask the workers to read the agent's catalogue, and wait for it up to `timeout` seconds: the
    catalogue then (read, or its error), or as it was when the time ran out. None: no such agent."""
    before = catalogue(agent_id)
    if before is None:
        return None
    publisher.send_task(REFRESH_PRODUCTS, args=[agent_id], queue=INTERACTIVE_QUEUE)  # the caller waits
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = catalogue(agent_id)
        if now.fetched_at != before.fetched_at or (now.error and now.error != before.error):
            return now
    return catalogue(agent_id)


def refresh(agent_id: str, timeout: float) -> None:
    """The worker's side: read the agent's catalogue (get_products, wholesale) and keep it; a failure
    is kept too (the catalogue before it stays in use)."""
    from ..adcp import client  # the ADCP SDK: workers only
    from .polling import load_agent

    agent = load_agent(agent_id)
    if agent is None:
        return
    try:
        listed = client.run(client.get_products(agent, timeout))
    except client.AgentCallError as exc:
        with transaction() as conn:
            store.read_failed(conn, agent_id, str(exc))
        log.warning("catalogue of %s not read: %s", agent_id, exc)
        return
    with transaction() as conn:
        store.replace(conn, agent_id, listed)
    log.info("catalogue of %s read: %d products", agent_id, len(listed))
