"""sim: the products a strict simulated seller sells (get_products) and the check of a create's packages
against them — unknown product, unknown pricing option, an auction option without a bid price or under its
floor: refused, the way a real seller refuses them (knob catalog_required).

Each product has a fixed-price option `cpm_usd_fixed` and most an auction one `cpm_usd_auction` with a
floor. Standard library only.
"""

from __future__ import annotations

import re
from typing import Any

FIXED, AUCTION = "cpm_usd_fixed", "cpm_usd_auction"

# product_id: (name, formats as (format_option_id, kind, params), fixed CPM, auction floor or None)
_PRODUCTS: dict[str, tuple[str, tuple[tuple[str, str, dict], ...], float, float | None]] = {
    "display_ros": ("Display, run of site",
                    (("display_300x250", "display", {"width": 300, "height": 250}),
                     ("display_728x90", "display", {"width": 728, "height": 90})), 6.0, 2.0),
    "video_premium": ("Premium pre-roll video",
                      (("video_15s", "video", {"duration_seconds": 15}),
                       ("video_30s", "video", {"duration_seconds": 30})), 22.0, 12.0),
    "ctv_sports": ("Connected TV, live sports", (("video_30s", "video", {"duration_seconds": 30}),), 35.0, None),
    "audio_streaming": ("Streaming audio", (("audio_30s", "audio", {"duration_seconds": 30}),), 12.0, 5.0),
}


def publisher_domain(agent_id: str) -> str:
    """A domain name for the agent's inventory (the schema's pattern allows no underscores)."""
    return re.sub(r"[^a-z0-9-]", "-", agent_id.lower()).strip("-") + ".sim.example"


def products(publisher_domain: str) -> list[dict[str, Any]]:
    """The get_products answer's `products`."""
    out = []
    for product_id, (name, formats, fixed, floor) in _PRODUCTS.items():
        options: list[dict[str, Any]] = [
            {"pricing_option_id": FIXED, "pricing_model": "cpm", "currency": "USD", "fixed_price": fixed}]
        if floor is not None:
            options.append({"pricing_option_id": AUCTION, "pricing_model": "cpm", "currency": "USD",
                            "floor_price": floor})
        out.append({
            "product_id": product_id,
            "name": name,
            "description": f"{name} (simulated inventory)",
            "publisher_properties": [{"publisher_domain": publisher_domain, "selection_type": "all"}],
            "format_options": [{"format_option_id": f, "format_kind": kind, "display_name": f, "params": params}
                               for f, kind, params in formats],
            "delivery_type": "non_guaranteed",
            "pricing_options": options,
            "reporting_capabilities": {
                "available_reporting_frequencies": ["hourly"], "expected_delay_minutes": 60, "timezone": "UTC",
                "supports_webhooks": True, "available_metrics": ["impressions", "spend", "clicks"],
                "date_range_support": "date_range"},
        })
    return out


def price(package: dict[str, Any]) -> tuple[float, str | None, str | None]:
    """(CPM, refused field, message) for one create package; a refusal names the field as the seller would."""
    product_id = package.get("product_id")
    product = _PRODUCTS.get(product_id)
    if product is None:
        return 0.0, "product_id", f"Product {product_id!r} not found in this seller's catalog (see get_products)."
    _, formats, fixed, floor = product
    offered = {f for f, _, _ in formats}
    for format_id in package.get("format_ids") or []:
        wanted = format_id.get("id") if isinstance(format_id, dict) else format_id
        if wanted not in offered:
            return 0.0, "format_ids", (f"Format {wanted!r} is not offered for product {product_id!r} "
                                       f"(offered: {', '.join(sorted(offered))}).")
    option = package.get("pricing_option_id")
    if option == FIXED:
        return fixed, None, None
    if option == AUCTION and floor is not None:
        bid = package.get("bid_price")
        if bid is None:
            return 0.0, "bid_price", f"Pricing option {AUCTION!r} of {product_id!r} is auction-priced: bid_price is required."
        if float(bid) < floor:
            return 0.0, "bid_price", f"bid_price {bid} is under the floor {floor} of {AUCTION!r} for {product_id!r}."
        return float(bid), None, None
    known = [FIXED] + ([AUCTION] if floor is not None else [])
    return 0.0, "pricing_option_id", (f"Pricing option {option!r} is not offered for product {product_id!r} "
                                      f"(offered: {', '.join(known)}).")
