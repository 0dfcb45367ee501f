"""domain: a seller's products as we check a campaign against them — which formats each offers, its
pricing options (fixed price, or an auction with a floor that takes a bid price), and the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PricingOption:
    option_id: str
    fixed_price: float | None  # a fixed price; None: auction-priced (the buyer bids)
    floor_price: float | None

    @property
    def auction(self) -> bool:
        return self.fixed_price is None


@dataclass(frozen=True)
class Product:
    product_id: str
    formats: frozenset[str]  # empty: the product names none (then formats are not checked)
    pricing_options: Mapping[str, PricingOption]


def read_product(raw: Mapping) -> Product | None:
    """A product as a seller lists it (ADCP 3.2 `format_options`, or older `format_ids`), read leniently:
    None when it has no product_id."""
    if not isinstance(raw.get("product_id"), str):
        return None
    formats = set()
    for option in raw.get("format_options") or ():
        if isinstance(option, Mapping) and isinstance(option.get("format_option_id"), str):
            formats.add(option["format_option_id"])
    for format_id in raw.get("format_ids") or ():
        name = format_id.get("id") if isinstance(format_id, Mapping) else format_id
        if isinstance(name, str):
            formats.add(name)
    options = {}
    for option in raw.get("pricing_options") or ():
        if isinstance(option, Mapping) and isinstance(option.get("pricing_option_id"), str):
            options[option["pricing_option_id"]] = PricingOption(
                option["pricing_option_id"], _number(option.get("fixed_price")), _number(option.get("floor_price")))
    return Product(raw["product_id"], frozenset(formats), options)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check(planned: Mapping, product: Product | None, agent_id: str) -> tuple[dict[str, str], str | None]:
    """A campaign product ({product_id, formats, pricing_option_id?, bid_price?}) against the seller's:
    ({the buyer API's field: why it can't be bought}, the pricing option to send). The option is the one
    named, else the product's only one; an auction option takes a bid price, at least its floor."""
    if product is None:
        return {"productId": f"Sales agent {agent_id!r} lists no product {planned['product_id']!r}."}, None
    errors = {}
    unknown = sorted(set(planned.get("formats") or ()) - product.formats) if product.formats else []
    if unknown:
        errors["formats"] = (f"Not offered by product {product.product_id!r}: {', '.join(unknown)} "
                             f"(it offers {', '.join(sorted(product.formats))}).")
    chosen = planned.get("pricing_option_id")
    offered = ", ".join(sorted(product.pricing_options)) or "none"
    if chosen is None and len(product.pricing_options) == 1:
        chosen = next(iter(product.pricing_options))
    if chosen is None:
        errors["pricingOptionId"] = f"Name one of product {product.product_id!r}'s pricing options: {offered}."
        return errors, None
    option = product.pricing_options.get(chosen)
    if option is None:
        errors["pricingOptionId"] = f"Product {product.product_id!r} offers no pricing option {chosen!r} ({offered})."
    elif option.auction:
        bid = planned.get("bid_price")
        if bid is None:
            errors["bidPrice"] = f"Pricing option {chosen!r} is an auction: name a bid price."
        elif option.floor_price is not None and Decimal(str(bid)) < Decimal(str(option.floor_price)):
            errors["bidPrice"] = f"Under the floor of {chosen!r} ({option.floor_price})."
    return errors, chosen
