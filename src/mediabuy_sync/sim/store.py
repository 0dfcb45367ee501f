"""sim: one agent's media buys, in memory, and their wire projections.

A buy's *phase* is what the seller decided; its ADCP `status` is derived from the phase, the buyer's
pause and the flight dates, so a flight start or a pause can never leave the two out of step.
Standard library only: this module is the part of the seller the tests can reason about without
the SDK.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SUBMITTED = "submitted"  # waiting for the seller's approval
PENDING_CREATIVES = "pending_creatives"  # approved, waiting for the buyer's creatives
LIVE = "live"  # approved and runnable: pending_start / active / paused by the dates and the pause flag
COMPLETED, REJECTED, CANCELED = "completed", "rejected", "canceled"
TERMINAL = frozenset({COMPLETED, REJECTED, CANCELED})

# What POST /_sim/buys/<id>/status accepts. Not pending_start: the flight dates decide that one.
SETTABLE_STATUSES = ("pending_creatives", "active", "paused", "completed", "rejected", "canceled")


def iso(ts: float) -> str:
    """ISO 8601 UTC with a Z, to the millisecond."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any, now: float) -> float:
    """An ADCP start/end time ('asap', ISO 8601 or a datetime) as epoch seconds."""
    if value is None or value == "asap":
        return now
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass
class PushTarget:
    """Where and how the buyer wants webhooks: push_notification_config or reporting_webhook."""

    url: str
    token: str | None = None
    operation_id: str | None = None
    scheme: str = "rfc9421"  # rfc9421 | hmac-sha256 | bearer
    credentials: str | None = None
    account_id: str | None = None  # whose config it is (a strict seller sends to each of an account's)

    def identity(self) -> tuple:
        """Two registrations of the same config are one config."""
        return (self.url, self.token, self.operation_id, self.scheme, self.credentials)

    @classmethod
    def from_wire(cls, config: dict[str, Any] | None) -> PushTarget | None:
        if not config or not config.get("url"):
            return None
        auth = config.get("authentication") or {}
        schemes = [str(s).upper() for s in auth.get("schemes") or []]
        scheme = "rfc9421"
        if "HMAC-SHA256" in schemes:
            scheme = "hmac-sha256"
        elif "BEARER" in schemes:
            scheme = "bearer"
        return cls(
            url=str(config["url"]),
            token=config.get("token"),
            operation_id=config.get("operation_id"),
            scheme=scheme,
            credentials=auth.get("credentials") if scheme != "rfc9421" else None,
        )

    def public(self) -> dict[str, Any]:
        """For the control API: never the credentials."""
        return {"url": self.url, "operation_id": self.operation_id, "scheme": self.scheme,
                "token": bool(self.token)}


@dataclass
class Package:
    package_id: str
    product_id: str
    pricing_option_id: str
    cpm: float
    budget: float | None = None
    pacing: str | None = None
    impressions_goal: float | None = None
    paused: bool = False
    canceled: bool = False
    creative_ids: list[str] = field(default_factory=list)
    context: dict[str, Any] | None = None
    impressions: int = 0
    spend: float = 0.0
    clicks: int = 0

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "package_id": self.package_id,
            "product_id": self.product_id,
            "pricing_option_id": self.pricing_option_id,
            "paused": self.paused,
            "canceled": self.canceled,
        }
        if self.budget is not None:
            out["budget"] = self.budget
        if self.pacing:
            out["pacing"] = self.pacing
        if self.impressions_goal is not None:
            out["impressions"] = self.impressions_goal
        if self.creative_ids:
            out["creative_assignments"] = [{"creative_id": c} for c in self.creative_ids]
        if self.context is not None:
            out["context"] = self.context
        return out

    def delivery(self, currency: str) -> dict[str, Any]:
        return {
            "package_id": self.package_id,
            "impressions": self.impressions,
            "spend": round(self.spend, 4),
            "clicks": self.clicks,
            "pricing_model": "cpm",
            "rate": self.cpm,
            "currency": currency,
            "paused": self.paused,
        }


@dataclass
class Buy:
    media_buy_id: str
    task_id: str
    account_id: str
    idempotency_key: str
    created_at: float
    start: float
    end: float
    currency: str
    packages: list[Package]
    push: PushTarget | None
    reporting: PushTarget | None = None
    total_budget: float | None = None
    name: str | None = None
    context: dict[str, Any] | None = None
    phase: str = SUBMITTED
    task_status: str = "submitted"  # of the create task: submitted, input-required, completed, rejected, failed
    paused: bool = False
    started: bool = False  # past its start_time while live (pending_start → active happened)
    confirmed_at: float | None = None
    status_as_of: float = 0.0
    updated_at: float = 0.0
    revision: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)
    rejection_reason: str | None = None
    cancellation: dict[str, Any] | None = None
    alias_task_ids: list[str] = field(default_factory=list)  # create retries that found this buy
    registry_task: bool = True  # false for a synchronous create: its task id is in no task registry
    decide_at: float | None = None  # when the seller decides a submitted buy
    activate_at: float | None = None  # when a buy whose creatives arrived goes live
    next_report_at: float | None = None
    report_sequence: int = 0
    last_report_at: float | None = None

    def status(self, now: float) -> str:
        if self.phase == SUBMITTED:
            # ADCP 3.2 has no "awaiting seller approval" media-buy status; confirmed_at stays null
            # until the seller commits, which is how a reader tells this from an approved buy.
            return "pending_start"
        if self.phase == PENDING_CREATIVES:
            return "pending_creatives"
        if self.phase == LIVE:
            if self.paused:
                return "paused"
            return "active" if now >= self.start else "pending_start"
        return self.phase

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    @property
    def creatives_assigned(self) -> bool:
        return any(p.creative_ids for p in self.packages if not p.canceled)

    def record(self, now: float, action: str, summary: str, *, actor: str = "seller",
               package_id: str | None = None, status_changed: bool = True) -> None:
        """Append a history entry (a new revision); `status_changed` also moves status_as_of."""
        self.revision += 1
        self.updated_at = now
        if status_changed:
            self.status_as_of = now
        entry: dict[str, Any] = {"revision": self.revision, "timestamp": iso(now), "action": action,
                                 "summary": summary[:500], "actor": actor}
        if package_id:
            entry["package_id"] = package_id
        self.history.append(entry)

    def totals(self) -> dict[str, Any]:
        return {
            "impressions": sum(p.impressions for p in self.packages),
            "spend": round(sum(p.spend for p in self.packages), 4),
            "clicks": sum(p.clicks for p in self.packages),
        }

    # -- wire projections -------------------------------------------------------------------------

    def lifecycle_result(self, now: float) -> dict[str, Any]:
        """`result` of a create/update task webhook: the media buy id and its status, ADCP 3.2 style."""
        out: dict[str, Any] = {"media_buy_id": self.media_buy_id, "media_buy_status": self.status(now),
                               "revision": self.revision}
        if self.confirmed_at is not None:
            out["confirmed_at"] = iso(self.confirmed_at)
        return out

    def create_success(self, now: float) -> dict[str, Any]:
        """The create_media_buy success artifact (tasks/get result and the completed webhook)."""
        out = {
            "media_buy_id": self.media_buy_id,
            "media_buy_status": self.status(now),
            "confirmed_at": iso(self.confirmed_at) if self.confirmed_at is not None else None,
            "revision": self.revision,
            "currency": self.currency,
            "packages": [p.wire() for p in self.packages],
        }
        if self.total_budget is not None:
            out["total_budget"] = self.total_budget
        if self.name:
            out["name"] = self.name
        if self.context is not None:
            out["context"] = self.context
        return out

    def media_buy(self, now: float, include_history: int = 0) -> dict[str, Any]:
        """One entry of get_media_buys."""
        out: dict[str, Any] = {
            "media_buy_id": self.media_buy_id,
            "status": self.status(now),
            "status_as_of": iso(self.status_as_of),
            "currency": self.currency,
            "total_budget": self.total_budget if self.total_budget is not None
            else sum(p.budget or 0 for p in self.packages),
            "confirmed_at": iso(self.confirmed_at) if self.confirmed_at is not None else None,
            "revision": self.revision,
            "start_time": iso(self.start),
            "end_time": iso(self.end),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "packages": [
                {k: v for k, v in p.wire().items() if k not in ("pricing_option_id", "creative_assignments")}
                for p in self.packages
            ],
        }
        if self.name:
            out["name"] = self.name
        if self.context is not None:
            out["context"] = self.context
        if self.phase == REJECTED and self.rejection_reason:
            out["rejection_reason"] = self.rejection_reason
        if self.phase == CANCELED and self.cancellation:
            out["cancellation"] = self.cancellation
        if include_history:
            out["history"] = list(reversed(self.history))[:include_history]
        return out

    def delivery(self, now: float) -> dict[str, Any]:
        """One media_buy_deliveries[] row, for get_media_buy_delivery and the delivery webhook."""
        return {
            "media_buy_id": self.media_buy_id,
            "status": self.status(now),
            "currency": self.currency,
            "totals": self.totals(),
            "by_package": [p.delivery(self.currency) for p in self.packages],
        }

    def control_view(self, now: float) -> dict[str, Any]:
        """GET /_sim/buys: everything a test wants to assert on."""
        return {
            **self.media_buy(now, include_history=len(self.history)),
            "task_id": self.task_id,
            "alias_task_ids": self.alias_task_ids,
            "phase": self.phase,
            "task_status": self.task_status,
            "paused": self.paused,
            "push": self.push.public() if self.push else None,
            "reporting": self.reporting.public() if self.reporting else None,
            "totals": self.totals(),
            "report_sequence": self.report_sequence,
        }


class BuyStore:
    """The buys of one agent, by id, the create idempotency keys that made them, and the updates
    applied, by their idempotency keys."""

    def __init__(self, agent_id: str):
        # A random per-process part keeps ids unique across restarts: a buyer's database outlives us.
        self._prefix = f"mb_{agent_id}_{secrets.token_hex(3)}_"
        self._counter = 0
        self.buys: dict[str, Buy] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._by_task: dict[str, str] = {}
        self._by_package: dict[str, str] = {}
        # update_media_buy by (account, idempotency_key): what was applied and answered, and how often
        # the same key came back and got that answer again instead of a second application
        self.updates: dict[tuple[str, str], dict[str, Any]] = {}

    def new_id(self) -> str:
        self._counter += 1
        return f"{self._prefix}{self._counter}"

    def add(self, buy: Buy) -> None:
        self.buys[buy.media_buy_id] = buy
        self._by_key[(buy.account_id, buy.idempotency_key)] = buy.media_buy_id
        self._by_task[buy.task_id] = buy.media_buy_id
        self.index_packages(buy)

    def index_packages(self, buy: Buy) -> None:
        for package in buy.packages:
            self._by_package[package.package_id] = buy.media_buy_id

    def alias_task(self, buy: Buy, task_id: str) -> None:
        buy.alias_task_ids.append(task_id)
        self._by_task[task_id] = buy.media_buy_id

    def get(self, media_buy_id: str) -> Buy | None:
        return self.buys.get(media_buy_id)

    def by_idempotency_key(self, account_id: str, key: str) -> Buy | None:
        media_buy_id = self._by_key.get((account_id, key))
        return self.buys.get(media_buy_id) if media_buy_id else None

    def by_task(self, task_id: str) -> Buy | None:
        media_buy_id = self._by_task.get(task_id)
        return self.buys.get(media_buy_id) if media_buy_id else None

    def recorded_update(self, account_id: str, key: str) -> dict[str, Any] | None:
        return self.updates.get((account_id, key))

    def record_update(self, account_id: str, key: str, media_buy_id: str, request: dict[str, Any],
                      response: dict[str, Any], now: float) -> None:
        # copies: the SDK may decorate the answer it is handed, and a replay must send the first one
        self.updates[(account_id, key)] = {"idempotency_key": key, "media_buy_id": media_buy_id,
                                           "request": copy.deepcopy(request), "response": copy.deepcopy(response),
                                           "applied_at": iso(now), "replays": 0}

    def package_owner(self, package_id: str) -> Buy | None:
        media_buy_id = self._by_package.get(package_id)
        return self.buys.get(media_buy_id) if media_buy_id else None
