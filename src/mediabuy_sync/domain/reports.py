"""domain: what a webhook says about media buys, and whether each report may change a buy.

A report names its buy the ways an agent can (its own media-buy id, our operation id, its task id),
carries the internal status it maps to (None: it says nothing about the lifecycle) and the agent's
time of it. `decide` is the ordering and transition guard every status source goes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .statuses import TASK_COMPLETED, Status, from_delivery, from_task, is_allowed

# Which task statuses of a task webhook speak for the buy's lifecycle. An update task that is
# submitted, working or failed says the *update* is pending or failed: the buy keeps its status
# until the agent completes the update with the buy's new status.
LIFECYCLE_TASK_STATUSES: dict[str, frozenset[str] | None] = {
    "create_media_buy": None,  # every task status
    "update_media_buy": frozenset({TASK_COMPLETED}),
}


@dataclass(frozen=True)
class StatusReport:
    adcp_media_buy_id: str | None
    operation_id: str | None
    task_id: str | None
    status: Status | None
    adcp_status: str | None
    as_of: datetime
    # what the seller said with it (why input is required, why it was rejected); kept on the buy
    message: str | None = None


def seller_message(holder: dict | None) -> str | None:
    """The seller's words in an ADCP answer or webhook: its `message`, else its `errors`' messages
    (a rejection may carry only those), joined; None when it says nothing."""
    if not isinstance(holder, dict):
        return None
    message = holder.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()[:2000]
    errors = holder.get("errors")
    said = [e["message"].strip() for e in errors if isinstance(e, dict) and isinstance(e.get("message"), str)
            and e["message"].strip()] if isinstance(errors, list) else []
    return "; ".join(said)[:2000] or None


class Source(StrEnum):
    """Who brought a status report: every row of the status ledger says."""

    WEBHOOK = "webhook"
    POLL = "poll"  # fallback polling
    API = "api"  # an agent's answer to our call, a buyer's action or live status query
    ADMIN = "admin"  # a re-sync an operator asked for
    ROLLUP = "rollup"  # a campaign's surfaced status changed


class Outcome(StrEnum):
    APPLIED = "applied"  # the buy moved to the reported status
    UNCHANGED = "unchanged"  # same status, fresher report: only status_as_of and the raw status move
    STALE = "stale"  # not newer than what the buy already reflects: recorded, not applied
    ANOMALY = "anomaly"  # transition not allowed: recorded, not applied, a reconcile poll asked for


def decide(current: Status, current_as_of: datetime | None, reported: Status, reported_as_of: datetime) -> Outcome:
    """The fate of a status report about a buy that is `current` as of `current_as_of`."""
    if current_as_of is not None and reported_as_of <= current_as_of:
        return Outcome.STALE
    if reported == current:
        return Outcome.UNCHANGED
    if is_allowed(Status(current), reported):
        return Outcome.APPLIED
    return Outcome.ANOMALY


# A seller's word that is not taken from one webhook: sellers misuse "completed" (one says it of a buy
# it has just approved), so a COMPLETED that skips the flight, or comes before the flight's end, is
# recorded as an anomaly and confirmed by reading the buy back (a reconcile poll), whose answer is
# the seller's state and is applied.
SUSPICIOUS_FROM: dict[Status, frozenset[Status]] = {
    Status.COMPLETED: frozenset({Status.PENDING_APPROVAL, Status.INPUT_REQUIRED}),
}


def is_suspicious(current: Status, reported: Status, reported_as_of: datetime, flight_end: datetime | None) -> bool:
    """Whether one report of `reported` must be confirmed by a read of the seller's state first."""
    if reported not in SUSPICIOUS_FROM:
        return False
    return current in SUSPICIOUS_FROM[reported] or (flight_end is not None and reported_as_of < flight_end)


def reports_from_webhook(payload: dict) -> list[StatusReport]:
    """The status reports in a validated ADCP webhook payload (empty for task types we don't track)."""
    task_type = payload["task_type"]
    task_status = payload["status"]
    as_of = _as_datetime(payload["timestamp"])
    result = payload.get("result") or {}
    if task_type in LIFECYCLE_TASK_STATUSES:
        speaks = LIFECYCLE_TASK_STATUSES[task_type]
        buy_status = result.get("media_buy_status") or result.get("status")  # 3.2, then 3.0/3.1
        if speaks is not None and task_status not in speaks:
            status, adcp_status = None, task_status
        elif task_status == TASK_COMPLETED:
            status, adcp_status = from_task(task_status, buy_status), buy_status or task_status
        else:
            status, adcp_status = from_task(task_status), task_status
        return [
            StatusReport(
                adcp_media_buy_id=result.get("media_buy_id"),
                operation_id=payload.get("operation_id") or echoed_buy_id(payload),
                task_id=payload.get("task_id"),
                status=status,
                adcp_status=adcp_status,
                as_of=as_of,
                message=seller_message(payload) or seller_message(result),
            )
        ]
    if task_type == "media_buy_delivery":
        return [
            StatusReport(
                adcp_media_buy_id=delivery["media_buy_id"],
                operation_id=None,
                task_id=None,
                status=from_delivery(delivery["status"]) if delivery.get("status") else None,
                adcp_status=delivery.get("status"),
                as_of=as_of,
            )
            for delivery in result.get("media_buy_deliveries") or ()
        ]
    return []


def echoed_buy_id(payload: dict) -> str | None:
    """Our media buy id from the `context` we sent with the task (create_media_buy's context names
    it), when the seller echoes it: a seller that sends no operation id still correlates that way."""
    for holder in (payload.get("result"), payload):
        context = holder.get("context") if isinstance(holder, dict) else None
        if isinstance(context, dict) and isinstance(context.get("media_buy_id"), str):
            return context["media_buy_id"]
    return None


def _as_datetime(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Totals:
    impressions: int | None
    spend: float | None
    clicks: int | None


@dataclass(frozen=True)
class DeliveryReport:
    adcp_media_buy_id: str
    as_of: datetime
    totals: Totals | None
    by_package: dict[str, Totals]  # the agent's package id → its totals


def deliveries_from_webhook(payload: dict) -> list[DeliveryReport]:
    """The delivery figures in a media_buy_delivery webhook (cumulative, as of its timestamp)."""
    if payload["task_type"] != "media_buy_delivery":
        return []
    as_of = _as_datetime(payload["timestamp"])

    def totals(d: dict) -> Totals:
        return Totals(d.get("impressions"), d.get("spend"), d.get("clicks"))

    return [
        DeliveryReport(
            adcp_media_buy_id=delivery["media_buy_id"],
            as_of=as_of,
            totals=totals(delivery["totals"]) if delivery.get("totals") else None,
            by_package={p["package_id"]: totals(p) for p in delivery.get("by_package") or ()},
        )
        for delivery in (payload.get("result") or {}).get("media_buy_deliveries") or ()
    ]


@dataclass(frozen=True)
class CreativeReview:
    creative_id: str
    action: str | None
    status: str | None
    assigned_to: tuple[str, ...]
    errors: tuple[dict, ...]


def creative_reviews_from_webhook(payload: dict) -> list[CreativeReview]:
    """What a completed sync_creatives task says of each creative."""
    if payload["task_type"] != "sync_creatives" or payload["status"] != TASK_COMPLETED:
        return []
    return [
        CreativeReview(
            creative_id=c["creative_id"],
            action=c.get("action"),
            status=c.get("status"),
            assigned_to=tuple(c.get("assigned_to") or ()),
            errors=tuple(c.get("errors") or ()),
        )
        for c in (payload.get("result") or {}).get("creatives") or ()
    ]
