"""adcp: the ADCP requests our cascades send, and what we read from the answers — plain dicts.

Built where the cascade is made (the web, inside the action's transaction) and stored with each item,
so every attempt sends the same request; validated against the SDK's models only by the worker's
client when it sends. No SDK import here: the web uses this module.

Two things are references the worker resolves just before the first attempt (then stores):
our package ids (`pkg_…`) in `package_id` fields become the agent's, once the agent has named them,
and a push authentication's credentials are `{"$credential": <agent_credentials id>}` — so no secret
is copied into cascade rows or shown in a debug answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from ..domain.frequency_caps import CAP_PERIODS
from ..domain.reports import seller_message
from ..domain.statuses import (
    MEDIA_BUY_STATUS_TO_INTERNAL, TASK_COMPLETED, TASK_STATUS_TO_INTERNAL, UNCONFIRMED_MEDIA_BUY_STATUS_TO_INTERNAL,
    Status, from_polled_media_buy, from_task,
)

CREDENTIAL_REF = "$credential"
PUSH_SCHEMES = {"hmac-sha256": "HMAC-SHA256", "bearer": "Bearer"}  # rfc9421: no authentication block

# ADCP's event types (event-type enum); any other is sent as "custom" with its name.
EVENT_TYPES = frozenset({
    "page_view", "view_content", "select_content", "select_item", "search", "share", "add_to_cart",
    "remove_from_cart", "viewed_cart", "add_to_wishlist", "initiate_checkout", "add_payment_info", "purchase",
    "refund", "lead", "qualify_lead", "close_convert_lead", "disqualify_lead", "complete_registration",
    "subscribe", "follow", "content_view", "watch_milestone", "start_trial", "app_install", "app_launch",
    "contact", "schedule", "donate", "submit_application", "custom",
})
CAP_WINDOWS = {"hour": {"interval": 1, "unit": "hours"}, "day": {"interval": 1, "unit": "days"},
               "week": {"interval": 7, "unit": "days"}, "flight": {"interval": 1, "unit": "campaign"}}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _amount(value: Decimal | float | int | None) -> float | None:
    return None if value is None else float(value)


def _compact(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def account(account_id: str) -> dict:
    """The account a call is for: the seller's id of our advertiser's account there (agents.accounts)."""
    return {"account_id": account_id}


def push_notification_config(url: str, operation_id: str, scheme: str, credential_id: int | None) -> dict:
    """Where and how the agent reports on the buy: HMAC-SHA256 or Bearer with the agent's newest
    secret, or no authentication block for an RFC 9421 agent (it signs with its own key)."""
    config = {"url": url, "operation_id": operation_id}
    if scheme in PUSH_SCHEMES:
        config["authentication"] = {"schemes": [PUSH_SCHEMES[scheme]], "credentials": {CREDENTIAL_REF: credential_id}}
    return config


def reporting_webhook(url: str, operation_id: str, scheme: str, credential_id: int | None) -> dict | None:
    """Where the seller sends delivery reports (some send none unless asked, with authentication): the
    same URL and credentials as the push config, hourly. None for an RFC 9421 agent: ADCP's
    reporting_webhook requires an authentication block, and such an agent signs with its own key."""
    push = push_notification_config(url, operation_id, scheme, credential_id)
    if "authentication" not in push:
        return None
    return {**push, "reporting_frequency": "hourly"}


def optimization_goal(goal: dict) -> dict:
    """Our goal (the buyer API's shape) as ADCP's: an unknown event type is a custom event."""
    out = _compact({"kind": goal["kind"], "metric": goal.get("metric"),
                    "target": _compact(dict(goal["target"])) if goal.get("target") else None})
    if goal["kind"] == "event":
        sources = []
        for source in goal.get("event_sources") or ():
            event_type = source.get("event_type")
            known = event_type in EVENT_TYPES
            sources.append(_compact({"event_source_id": source.get("event_source_id"),
                                     "event_type": event_type if known else "custom",
                                     "custom_event_name": None if known else event_type,
                                     "value_field": source.get("value_field")}))
        out["event_sources"] = sources
    return out


def frequency_cap(caps: list[dict]) -> dict | None:
    """ADCP carries one cap per media buy: the one over the shortest window (the caps are merged, one
    per period); the full list rides along in `ext` for agents that take more."""
    if not caps:
        return None
    first = min(caps, key=lambda c: CAP_PERIODS.index(c["per"]))
    return {"max_impressions": int(first["maxImpressions"]), "per": "individuals", "window": CAP_WINDOWS[first["per"]]}


def property_list_fields(property_list: dict | None) -> dict:
    """A package's fields for the campaign's property list: an ADCP property-list reference when it is
    one ({agent_url, list_id, auth_token?}, camelCase accepted), else the list as given, in `ext`."""
    if not property_list:
        return {}
    pick = {"agent_url": property_list.get("agent_url") or property_list.get("agentUrl"),
            "list_id": property_list.get("list_id") or property_list.get("listId"),
            "auth_token": property_list.get("auth_token") or property_list.get("authToken")}
    if pick["agent_url"] and pick["list_id"]:
        return {"targeting_overlay": {"property_list": _compact(pick)}}
    return {"ext": {"property_list": property_list}}


@dataclass(frozen=True)
class NewPackage:
    """One of our packages as create_media_buy sends it."""

    package_id: str
    product_id: str
    pricing_option_id: str
    budget: Decimal
    pacing: str | None
    bid_price: Decimal | None
    start: datetime | None  # a pacing period's; None: the buy's flight
    end: datetime | None
    creative_ids: list[str]


def create_media_buy(*, buy_id: str, campaign: Mapping, account_id: str, packages: Iterable[NewPackage],
                     goals: list[dict], caps: list[dict], push: dict, brand_domain: str, now: datetime,
                     reporting: dict | None = None) -> dict:
    """The create_media_buy request of one of our buys (idempotency_key added by the cascade)."""
    start, end = campaign["flight_start"], campaign["flight_end"]
    package_requests = []
    for p in packages:
        package_requests.append(_compact({
            "product_id": p.product_id,
            "pricing_option_id": p.pricing_option_id,  # the seller's: named by the buyer, or its product's only one
            "budget": _amount(p.budget),
            "pacing": p.pacing,
            "bid_price": _amount(p.bid_price),
            "start_time": _iso(max(p.start, now)) if p.start else None,
            "end_time": _iso(p.end) if p.end else None,
            "optimization_goals": [optimization_goal(g) for g in goals] or None,
            "creative_assignments": [{"creative_id": c} for c in p.creative_ids] or None,
            **property_list_fields(campaign.get("property_list")),
            # echoed back with the agent's package id: how we learn which of its packages is which
            "context": {"package_id": p.package_id},
        }))
    total = sum((Decimal(str(p["budget"])) for p in package_requests if "budget" in p), Decimal(0))
    return _compact({
        "account": account(account_id),
        "brand": {"domain": brand_domain},
        "name": campaign["name"],
        "start_time": "asap" if start <= now else _iso(start),
        "end_time": _iso(end),
        "total_budget": {"amount": float(total), "currency": campaign["currency"] or "USD"},
        "packages": package_requests,
        "frequency_cap": frequency_cap(caps),
        "ext": {"frequency_caps": caps} if caps else None,
        "push_notification_config": push,
        "reporting_webhook": reporting,
        "context": {"media_buy_id": buy_id, "campaign_id": campaign["id"]},
    })


def update_media_buy(account_id: str, buy_id: str, **fields) -> dict:
    """An update_media_buy request; media_buy_id is ours until the worker resolves it."""
    return _compact({"account": account(account_id), "media_buy_id": buy_id, **fields})


def sync_creatives(account_id: str, creative_ids: list[str], assign: Iterable[tuple[str, str]],
                   unassign: Iterable[tuple[str, str]]) -> dict:
    """Creatives (already in the agent's library, by id) assigned to and unassigned from packages."""
    operations = [{"operation": "assign", "creative_id": c, "package_id": p} for c, p in assign]
    operations += [{"operation": "unassign", "creative_id": c, "package_id": p} for c, p in unassign]
    return _compact({"account": account(account_id), "creative_ids": list(creative_ids) or None,
                     "assignment_operations": operations or None})


# --- reading answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateAnswer:
    status: Status
    adcp_status: str
    adcp_media_buy_id: str | None
    task_id: str | None
    packages: list[dict]
    message: str | None = None  # the seller's words with it (why input is required, …)


def read_create_answer(answer: dict) -> CreateAnswer:
    """What a create_media_buy answer says: usually `submitted` with a task id (and the agent's media
    buy id in ext, as the simulated sellers do); a synchronous agent completes with the buy itself.
    Raises ValueError for a status outside the protocol."""
    data = answer.get("data") or {}
    task_status = data.get("status") or answer.get("status")
    buy_status = data.get("media_buy_status")
    if task_status not in TASK_STATUS_TO_INTERNAL or (buy_status and buy_status not in MEDIA_BUY_STATUS_TO_INTERNAL):
        raise ValueError(f"create_media_buy answered status {task_status!r} / media buy status {buy_status!r}")
    if task_status == TASK_COMPLETED and buy_status:
        status = from_polled_media_buy(buy_status, confirmed=bool(data.get("confirmed_at")))
    else:
        # a completed create that names no status still made the buy: pending until a poll says more
        status = from_task(task_status, buy_status) or Status.PENDING_APPROVAL
    return CreateAnswer(
        status=status,
        adcp_status=buy_status or task_status,
        adcp_media_buy_id=data.get("media_buy_id") or (data.get("ext") or {}).get("media_buy_id"),
        task_id=data.get("task_id") or answer.get("task_id"),
        packages=list(data.get("packages") or ()),
        message=seller_message(data) or seller_message(answer),
    )


def answered_buy_status(answer: dict) -> str | None:
    """The media buy's ADCP status in an update_media_buy answer, when it tells us one: not an
    unconfirmed pending_start, which can mean approved-but-not-started as well as still under review."""
    data = answer.get("data") or {}
    status = data.get("media_buy_status")
    if status in UNCONFIRMED_MEDIA_BUY_STATUS_TO_INTERNAL and not data.get("confirmed_at"):
        return None
    return status if status in MEDIA_BUY_STATUS_TO_INTERNAL else None


def match_packages(ours: list[tuple[str, str]], theirs: list[dict]) -> dict[str, str]:
    """{our package id: the agent's} from the packages an agent lists for a buy: by the context we
    sent, else — when the lists have the same length and products — by position (answers keep the
    request's order)."""
    ids = {pid for pid, _ in ours}
    found = {}
    for package in theirs:
        echoed = (package.get("context") or {}).get("package_id")
        if echoed in ids and package.get("package_id"):
            found[echoed] = package["package_id"]
    if len(found) < len(ours) and len(theirs) == len(ours) and all(
            t.get("product_id") == product and t.get("package_id") for (_, product), t in zip(ours, theirs)):
        for (pid, _), package in zip(ours, theirs):
            found.setdefault(pid, package["package_id"])
    return found


def package_refs(body: dict) -> list[str]:
    """Every package id a request names (to resolve ours into the agent's)."""
    refs = [p["package_id"] for p in body.get("packages") or () if "package_id" in p]
    refs += [op["package_id"] for op in body.get("assignment_operations") or ()]
    return refs


def with_agent_ids(body: dict, adcp_media_buy_id: str | None, package_ids: Mapping[str, str]) -> dict:
    """The request with our ids replaced by the agent's (ids it does not map are left as they are)."""
    out = dict(body)
    if "media_buy_id" in out and adcp_media_buy_id:
        out["media_buy_id"] = adcp_media_buy_id
    if "packages" in out:
        out["packages"] = [{**p, "package_id": package_ids.get(p["package_id"], p["package_id"])}
                           if "package_id" in p else p for p in out["packages"]]
    if "assignment_operations" in out:
        out["assignment_operations"] = [{**op, "package_id": package_ids.get(op["package_id"], op["package_id"])}
                                        for op in out["assignment_operations"]]
    return out
