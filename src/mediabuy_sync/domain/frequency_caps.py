"""domain: frequency caps — the campaign's and the advertiser's, merged: per period, the lowest."""

from __future__ import annotations

from collections.abc import Iterable

CAP_PERIODS = ("hour", "day", "week", "flight")  # shortest first


def merged_frequency_caps(*cap_lists: Iterable[dict]) -> list[dict]:
    """The caps in force across the campaign's and the advertiser's lists: per period, the lowest."""
    lowest: dict[str, int] = {}
    for caps in cap_lists:
        for cap in caps or ():
            per, most = cap["per"], int(cap["maxImpressions"])
            lowest[per] = min(most, lowest.get(per, most))
    return [{"maxImpressions": lowest[p], "per": p} for p in CAP_PERIODS if p in lowest]
