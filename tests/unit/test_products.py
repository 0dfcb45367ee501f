"""A campaign's products against a seller's catalogue (domain/products.py): read leniently, refused with
the field that is wrong, the pricing option taken from the product when it has one."""

from __future__ import annotations

from mediabuy_sync.domain.products import check, read_product

# as the strict simulated seller (and the ADCP 3.2 schema) lists a product
VIDEO = read_product({
    "product_id": "video_premium", "name": "Premium pre-roll",
    "format_options": [{"format_option_id": "video_15s"}, {"format_option_id": "video_30s"}],
    "pricing_options": [{"pricing_option_id": "cpm_usd_fixed", "pricing_model": "cpm", "fixed_price": 22.0},
                        {"pricing_option_id": "cpm_usd_auction", "pricing_model": "cpm", "floor_price": 12.0}]})
ONE_OPTION = read_product({"product_id": "ctv", "format_ids": [{"agent_url": "https://s.example", "id": "video_30s"}],
                           "pricing_options": [{"pricing_option_id": "cpm_usd_fixed", "fixed_price": 35}]})


def planned(**values) -> dict:
    return {"product_id": "video_premium", "formats": ["video_15s"], "pricing_option_id": None, "bid_price": None,
            **values}


def test_a_product_is_read_leniently_from_either_format_shape():
    assert VIDEO.formats == {"video_15s", "video_30s"} and ONE_OPTION.formats == {"video_30s"}
    assert VIDEO.pricing_options["cpm_usd_auction"].auction and not VIDEO.pricing_options["cpm_usd_fixed"].auction
    assert read_product({"name": "no id"}) is None


def test_a_fixed_option_named_is_sent_and_the_only_option_is_taken_when_none_is_named():
    assert check(planned(pricing_option_id="cpm_usd_fixed"), VIDEO, "a") == ({}, "cpm_usd_fixed")
    assert check(planned(product_id="ctv", formats=["video_30s"]), ONE_OPTION, "a") == ({}, "cpm_usd_fixed")


def test_each_wrong_part_is_refused_by_its_field():
    errors, _ = check(planned(), None, "seller_a")
    assert "seller_a" in errors["productId"] and "video_premium" in errors["productId"]
    errors, _ = check(planned(formats=["video_15s", "display_300x250"], pricing_option_id="cpm_usd_fixed"), VIDEO, "a")
    assert list(errors) == ["formats"] and "display_300x250" in errors["formats"]
    errors, option = check(planned(), VIDEO, "a")  # two options: the buyer must choose
    assert option is None and "cpm_usd_auction" in errors["pricingOptionId"]
    errors, _ = check(planned(pricing_option_id="default"), VIDEO, "a")  # a made-up option
    assert "default" in errors["pricingOptionId"]


def test_an_auction_option_takes_a_bid_price_at_least_its_floor():
    assert "bidPrice" in check(planned(pricing_option_id="cpm_usd_auction"), VIDEO, "a")[0]
    assert "floor" in check(planned(pricing_option_id="cpm_usd_auction", bid_price=11.99), VIDEO, "a")[0]["bidPrice"]
    assert check(planned(pricing_option_id="cpm_usd_auction", bid_price=12), VIDEO, "a") == ({}, "cpm_usd_auction")
