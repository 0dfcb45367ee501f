"""web: the buyer API's sales agents (/api/v2/buyer) — a seller's catalogue, as its get_products listed
it, to choose products and their pricing options from."""

from __future__ import annotations

from marshmallow import Schema, fields

from ..config import settings
from ..queue.publisher import publisher
from ..services import products
from .auth import buyer_blueprint
from .errors import ApiError
from .schemas import Strict

bp = buyer_blueprint("sales_agents", __name__, description="Sales agents: their catalogues.")


class CatalogueQuery(Strict):
    refresh = fields.Boolean(load_default=False, metadata={
        "description": "Read it from the seller now (waits up to MEDIABUY_STATUS_QUERY_DEADLINE_SECONDS)."})


class CatalogueAnswer(Schema):
    salesAgentId = fields.String(required=True)
    fetchedAt = fields.DateTime(allow_none=True, metadata={"description": "When it was read; null: never."})
    error = fields.String(allow_none=True, metadata={"description": "Why the last read failed, if it did."})
    products = fields.List(fields.Dict(), required=True, metadata={
        "description": "Each product as the seller listed it (product_id, format_options, pricing_options, …)."})


@bp.route("/sales-agents/<id:agent_id>/products", methods=["GET"])
@bp.arguments(CatalogueQuery, location="query")
@bp.response(200, CatalogueAnswer)
@bp.alt_response(404, "NOT_FOUND")
def catalogue(query: dict, agent_id: str):
    """A seller's catalogue

    The products its get_products listed, read by the workers and kept for MEDIABUY_PRODUCTS_TTL_SECONDS;
    campaigns' products are checked against it. `refresh=true` reads it now.
    """
    if query["refresh"]:
        found = products.read_now(agent_id, publisher, settings().status_query_deadline_seconds)
    else:
        found = products.catalogue(agent_id)
    if found is None:
        raise ApiError(404, "NOT_FOUND", f"No sales agent {agent_id!r} is registered.")
    return {"salesAgentId": agent_id, "fetchedAt": found.fetched_at, "error": found.error,
            "products": [found.products[p] for p in sorted(found.products)]}
