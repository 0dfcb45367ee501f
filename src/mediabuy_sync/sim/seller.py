"""sim: the simulated seller — a DecisioningPlatform answering the media-buy tasks from the agent's store.

A polite seller's create_media_buy hands off to a workflow (`ctx.handoff_to_workflow`): the SDK issues the task id and
answers `{status: "submitted", task_id}`, the lifecycle clock later completes or fails that task and
sends the webhooks itself — the platform declares `webhook_signing_managed_externally` for exactly
that. The media_buy_id exists from the start and is added to the submitted answer as
`ext.media_buy_id`, so a buyer can poll get_media_buys before the seller decides.

The strict-seller knobs (config.py) make it behave like the sellers of ../shared/SELLERS.md: accounts
of its own (accounts.py), a catalog (catalog.py), a synchronous create, fields it does not know refused,
updates acknowledged without effect, reads without the fields the protocol requires.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from typing import TYPE_CHECKING, Any

from adcp.decisioning import DecisioningCapabilities, DecisioningPlatform
from adcp.decisioning.capabilities import WebhookSigning
from adcp.decisioning.types import AdcpError

from . import catalog
from .accounts import UNSENT_ACCOUNT, SimAccounts
from .config import STRICT_REFUSED_FIELDS
from .store import CANCELED, LIVE, PENDING_CREATIVES, Buy, Package, PushTarget, iso, parse_time

if TYPE_CHECKING:
    from .agent import SimAgent

# Products the simulator prices; any other product_id is accepted at Timings.default_cpm.
PRODUCT_CPMS = {"display_ros": 6.0, "video_premium": 22.0, "ctv_sports": 35.0, "audio_streaming": 12.0}
POLL_TASKS = ("get_media_buys", "get_media_buy_delivery")
# What a strict seller's get_media_buys leaves out of each buy (read_omits_fields).
OMITTED_READ_FIELDS = ("revision", "adcp_version", "confirmed_at", "status_as_of")


def account_key(ctx) -> str:
    """The resolved account's id; "" where a strict seller resolved none (update without `account`)."""
    return ctx.account.id if getattr(ctx, "account", None) is not None else ""


class SimSeller(DecisioningPlatform):
    """One instance per agent; all state lives on the SimAgent."""

    def __init__(self, agent: SimAgent):
        self.agent = agent
        self.accounts = SimAccounts(agent)
        algorithm = "ed25519" if agent.settings.key_algorithm == "ed25519" else "ecdsa-p256-sha256"
        self.capabilities = DecisioningCapabilities(
            specialisms=["sales-non-guaranteed"],
            supported_protocols=["media_buy"],
            # We sign and deliver every webhook ourselves (webhooks.py), so the SDK must not; the
            # retry horizon is what the protocol asks an external publisher to declare.
            webhook_signing=WebhookSigning(
                supported=True,
                profile="adcp/webhook-signing/v1",
                algorithms=[algorithm],
                legacy_hmac_fallback=True,
                delivery_retry_horizon_seconds=86400,
            ),
            webhook_signing_managed_externally=True,
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _buy(self, media_buy_id: str) -> Buy:
        buy = self.agent.store.get(media_buy_id)
        if buy is None:
            raise AdcpError("MEDIA_BUY_NOT_FOUND", message=f"No media buy {media_buy_id!r}.",
                            field="media_buy_id", recovery="correctable")
        return buy

    async def _poll_faults(self, task: str) -> None:
        """The ADCP-level poll faults; HTTP 5xx ones are injected before the request reaches us."""
        agent = self.agent
        faults = agent.faults
        agent.stats[f"polls_{task}"] += 1
        agent.stats["polls_received"] += 1
        error = agent.rng_polls.random() < faults.poll_adcp_error_share
        slow = agent.rng_polls.random() < faults.poll_slow_share
        if slow:
            agent.stats["polls_slowed"] += 1
            await asyncio.sleep(faults.poll_slow_seconds)
        if error:
            agent.stats["polls_failed_adcp"] += 1
            raise AdcpError("SERVICE_UNAVAILABLE", message="Simulated reporting outage; retry shortly.",
                            recovery="transient", retry_after=1)
        agent.stats["polls_served"] += 1

    def _refuse_unknown_fields(self, task: str, raw: dict[str, Any]) -> None:
        """refuse_unknown_fields: the way one seller's default mode refuses fields its signature lacks."""
        if not self.agent.faults.refuse_unknown_fields:
            return
        for name in STRICT_REFUSED_FIELDS[task]:
            if name in raw and not (name == "account" and raw[name].get("account_id") == UNSENT_ACCOUNT):
                self.agent.stats["requests_refused_fields"] += 1
                raise AdcpError("VALIDATION_ERROR", message=f"Unexpected keyword argument {name!r} ({task})",
                                field=name, recovery="correctable")

    def _require_account(self, raw: dict[str, Any]) -> None:
        if self.agent.faults.seller_accounts and not raw.get("account"):
            raise AdcpError("ACCOUNT_NOT_FOUND", field="account", recovery="correctable",
                            message="account is required: an account_id from sync_accounts or list_accounts.")

    def _check_catalog(self, packages: list[dict[str, Any]]) -> None:
        if not self.agent.faults.catalog_required:
            return
        for index, package in enumerate(packages):
            _, field_name, message = catalog.price(package)
            if field_name:
                self.agent.stats["packages_refused"] += 1
                code = "PRODUCT_NOT_FOUND" if field_name == "product_id" else "INVALID_REQUEST"
                raise AdcpError(code, message=message, field=f"packages[{index}].{field_name}",
                                recovery="correctable")

    def _package(self, media_buy_id: str, index: int, request: dict[str, Any]) -> Package:
        cpm = request.get("bid_price") or PRODUCT_CPMS.get(request["product_id"], self.agent.timings.default_cpm)
        if self.agent.faults.catalog_required:
            cpm = catalog.price(request)[0] or cpm
        creative_ids = [a["creative_id"] for a in request.get("creative_assignments") or [] if a.get("creative_id")]
        creative_ids += [c["creative_id"] for c in request.get("creatives") or [] if c.get("creative_id")]
        return Package(
            package_id=f"{media_buy_id}_pkg{index}",
            product_id=request["product_id"],
            pricing_option_id=request["pricing_option_id"],
            cpm=float(cpm),
            budget=request.get("budget"),
            pacing=request.get("pacing"),
            impressions_goal=request.get("impressions"),
            paused=bool(request.get("paused", False)),
            creative_ids=creative_ids,
            context=request.get("context"),
        )

    # -- tasks ------------------------------------------------------------------------------------

    async def get_products(self, req, ctx):
        # A polite agent takes any product_id / pricing_option_id and publishes no catalog.
        if not self.agent.faults.catalog_required:
            return {"products": []}
        self.agent.stats["product_listings"] += 1
        return {"products": catalog.products(catalog.publisher_domain(self.agent.settings.id))}

    async def create_media_buy(self, req, ctx):
        agent = self.agent
        raw = req.model_dump(mode="json", exclude_none=True)
        self._refuse_unknown_fields("create_media_buy", raw)
        self._require_account(raw)
        now = time.time()
        start = parse_time(raw.get("start_time"), now)
        end = parse_time(raw.get("end_time"), now)
        if end <= start:
            raise AdcpError("INVALID_REQUEST", message="end_time must be after start_time.",
                            field="end_time", recovery="correctable")
        if not raw.get("packages"):
            raise AdcpError("INVALID_REQUEST", message="This seller needs explicit packages (no proposals).",
                            field="packages", recovery="correctable")
        self._check_catalog(raw["packages"])
        existing = agent.store.by_idempotency_key(account_key(ctx), raw["idempotency_key"])
        if agent.faults.sync_create:
            return self._create_now(raw, ctx, existing, start, end, now)

        async def register(task_ctx) -> None:
            # Called once with the SDK-issued task id, before the submitted answer goes out.
            if existing is not None:
                # A retried create finds its buy: same media_buy_id, and the new task follows it.
                agent.store.alias_task(existing, task_ctx.id)
                agent.stats["creates_replayed"] += 1
                if existing.task_status == "completed":
                    await agent.registry.complete(task_ctx.id, existing.create_success(time.time()))
                return
            buy = self._new_buy(raw, ctx, task_ctx.id, start, end, now)
            buy.history.append({"revision": 1, "timestamp": iso(now), "action": "created",
                                "summary": "Received; awaiting approval", "actor": "buyer"})
            agent.store.add(buy)
            agent.stats["creates"] += 1
            agent.lifecycle.created(buy, now)

        return ctx.handoff_to_workflow(register)

    def _new_buy(self, raw: dict[str, Any], ctx, task_id: str, start: float, end: float, now: float,
                 registry_task: bool = True) -> Buy:
        """A buy as the create asks for it (one path for the asynchronous and the synchronous create)."""
        media_buy_id = self.agent.store.new_id()
        budget = raw.get("total_budget") or {}
        return Buy(
            media_buy_id=media_buy_id,
            task_id=task_id,
            account_id=account_key(ctx),
            idempotency_key=raw["idempotency_key"],
            created_at=now,
            start=start,
            end=end,
            currency=budget.get("currency", "USD"),
            total_budget=budget.get("amount"),
            name=raw.get("name"),
            context=raw.get("context"),
            packages=[self._package(media_buy_id, i + 1, p) for i, p in enumerate(raw["packages"])],
            push=self.agent.register_push(account_key(ctx), raw.get("push_notification_config")),
            reporting=PushTarget.from_wire(raw.get("reporting_webhook")),
            paused=bool(raw.get("paused", False)),
            status_as_of=now,
            updated_at=now,
            registry_task=registry_task,
        )

    def _create_now(self, raw: dict[str, Any], ctx, existing: Buy | None, start: float, end: float,
                    now: float) -> dict[str, Any]:
        """sync_create: the buy exists and is decided in this answer — `completed` with its id, status,
        revision and the seller's package ids; no task the buyer could follow (its webhooks carry one the
        buyer never saw)."""
        agent = self.agent
        if existing is not None:
            agent.stats["creates_replayed"] += 1
            return existing.create_success(now)
        buy = self._new_buy(raw, ctx, f"task_sync_{uuid.uuid4().hex[:16]}", start, end, now, registry_task=False)
        buy.history.append({"revision": 1, "timestamp": iso(now), "action": "created",
                            "summary": "Received and decided at once", "actor": "buyer"})
        agent.store.add(buy)
        agent.stats["creates"] += 1
        agent.stats["creates_synchronous"] += 1
        agent.lifecycle.decided_at_create(buy, now)
        return buy.create_success(now)

    async def update_media_buy(self, media_buy_id, patch, ctx):
        agent = self.agent
        raw = patch.model_dump(mode="json", exclude_none=True)
        self._refuse_unknown_fields("update_media_buy", raw)
        key = raw.get("idempotency_key")
        recorded = agent.store.recorded_update(account_key(ctx), key) if key else None
        if recorded is not None:
            # A retry (the buyer's worker died before it read our answer): the first answer again,
            # nothing applied twice; the same key over another request is the buyer's bug.
            if recorded["request"] != raw:
                raise AdcpError("IDEMPOTENCY_CONFLICT", field="idempotency_key", recovery="correctable",
                                message=f"idempotency_key {key!r} was used for another request.")
            recorded["replays"] += 1
            agent.stats["updates_replayed"] += 1
            await self._slow_update()
            return copy.deepcopy(recorded["response"])
        buy = self._buy(media_buy_id)
        now = time.time()
        if raw.get("revision") is not None and raw["revision"] != buy.revision:
            raise AdcpError("CONFLICT", message=f"Revision {raw['revision']} is stale; current is {buy.revision}.",
                            field="revision", recovery="correctable")
        if buy.terminal:
            code = "NOT_CANCELLABLE" if raw.get("canceled") else "INVALID_STATE"
            raise AdcpError(code, message=f"The media buy is {buy.phase}; it cannot change any more.",
                            recovery="terminal")
        by_id = {p.package_id: p for p in buy.packages}
        unknown = [u["package_id"] for u in raw.get("packages") or [] if u["package_id"] not in by_id]
        if unknown:  # checked before anything changes: an update applies whole or not at all
            raise AdcpError("PACKAGE_NOT_FOUND", message=f"No package {unknown[0]!r} in this buy.",
                            field="packages", recovery="correctable")
        affected: list[Package] = []
        if agent.faults.update_noop_share and agent.rng_updates.random() < agent.faults.update_noop_share:
            # Acknowledged, not done: the seller's next read still shows the buy as it was.
            agent.stats["updates_ignored"] += 1
            response = {"media_buy_id": buy.media_buy_id, "media_buy_status": buy.status(now),
                        "affected_packages": []}
            if key:
                agent.store.record_update(account_key(ctx), key, buy.media_buy_id, raw, response, now)
            await self._slow_update()
            return response
        if raw.get("canceled"):
            reason = raw.get("cancellation_reason") or "Canceled by the buyer."
            buy.phase = CANCELED
            buy.cancellation = {"canceled_at": iso(now), "canceled_by": "buyer", "reason": reason[:500]}
            buy.record(now, "canceled", reason, actor="buyer")
            await agent.lifecycle.buyer_canceled(buy)
        else:
            if "paused" in raw and raw["paused"] != buy.paused:
                before = buy.status(now)
                buy.paused = raw["paused"]
                buy.record(now, "paused" if buy.paused else "resumed",
                           "Paused by the buyer" if buy.paused else "Resumed by the buyer",
                           actor="buyer", status_changed=buy.status(now) != before)
            if raw.get("start_time") is not None or raw.get("end_time") is not None:
                buy.start = parse_time(raw["start_time"], now) if raw.get("start_time") is not None else buy.start
                buy.end = parse_time(raw["end_time"], now) if raw.get("end_time") is not None else buy.end
                buy.started = buy.phase == LIVE and now >= buy.start
                buy.record(now, "updated_dates", f"Flight {iso(buy.start)} – {iso(buy.end)}",
                           actor="buyer", status_changed=False)
            if raw.get("total_budget"):
                buy.total_budget = raw["total_budget"].get("amount", buy.total_budget)
                buy.record(now, "updated_budget", f"Total budget {buy.total_budget} {buy.currency}",
                           actor="buyer", status_changed=False)
            for update in raw.get("packages") or []:
                package = by_id[update["package_id"]]
                self._apply_package_update(buy, package, update, now)
                affected.append(package)
            for index, request in enumerate(raw.get("new_packages") or [], start=len(buy.packages) + 1):
                package = self._package(buy.media_buy_id, index, request)
                buy.packages.append(package)
                affected.append(package)
                buy.record(now, "updated_packages", f"Added {package.package_id}", actor="buyer",
                           package_id=package.package_id, status_changed=False)
            agent.store.index_packages(buy)
            if buy.phase == PENDING_CREATIVES and buy.creatives_assigned:
                agent.lifecycle.creatives_arrived(buy, now)
        agent.stats["updates"] += 1
        response: dict[str, Any] = {
            "media_buy_id": buy.media_buy_id,
            "media_buy_status": buy.status(now),
            "revision": buy.revision,
            "implementation_date": iso(now) if buy.phase in (LIVE, CANCELED) else None,
        }
        if affected:
            response["affected_packages"] = [p.wire() for p in affected]
        if key:  # recorded before any wait: a retry arriving meanwhile gets this answer, not a second update
            agent.store.record_update(account_key(ctx), key, buy.media_buy_id, raw, response, now)
        if agent.faults.update_webhooks:
            target = agent.register_push(buy.account_id, raw.get("push_notification_config")) or buy.push
            agent.emitter.emit(target, task_id=f"task_upd_{uuid.uuid4().hex[:16]}", task_type="update_media_buy",
                               status="completed", result=response)
        await self._slow_update()
        return response

    async def _slow_update(self) -> None:
        """The `update_delay_seconds` knob: the update is applied (and recorded) at once, its answer late."""
        if self.agent.faults.update_delay_seconds > 0:
            await asyncio.sleep(self.agent.faults.update_delay_seconds)

    def _apply_package_update(self, buy: Buy, package: Package, update: dict[str, Any], now: float) -> None:
        summary = []
        for name in ("budget", "pacing", "impressions"):
            if name in update:
                setattr(package, "impressions_goal" if name == "impressions" else name, update[name])
                summary.append(f"{name}={update[name]}")
        if update.get("bid_price") is not None:
            package.cpm = float(update["bid_price"])
            summary.append(f"bid_price={package.cpm}")
        if "paused" in update:
            package.paused = bool(update["paused"])
            summary.append("paused" if package.paused else "resumed")
        if update.get("canceled"):
            package.canceled = True
            summary.append("canceled")
        if "creative_assignments" in update:
            package.creative_ids = [a["creative_id"] for a in update["creative_assignments"]]
            summary.append(f"{len(package.creative_ids)} creatives")
        action = "package_canceled" if update.get("canceled") else "updated_packages"
        buy.record(now, action, f"{package.package_id}: {', '.join(summary) or 'no change'}",
                   actor="buyer", package_id=package.package_id, status_changed=False)

    async def sync_creatives(self, req, ctx):
        agent = self.agent
        raw = req.model_dump(mode="json", exclude_none=True)
        now = time.time()
        results: dict[str, dict[str, Any]] = {}
        for creative in raw.get("creatives") or []:
            creative_id = creative["creative_id"]
            action = "updated" if creative_id in agent.creatives else "created"
            agent.creatives[creative_id] = {**creative, "synced_at": iso(now)}
            results[creative_id] = {"creative_id": creative_id, "action": action, "status": "approved"}
        operations = [{"operation": "assign", **a} for a in raw.get("assignments") or []]
        operations += raw.get("assignment_operations") or []
        touched: dict[str, Buy] = {}
        for op in operations:
            creative_id, package_id = op["creative_id"], op["package_id"]
            row = results.setdefault(creative_id, {"creative_id": creative_id, "action": "unchanged",
                                                   "status": "approved"})
            buy = agent.store.package_owner(package_id)
            if buy is None or buy.terminal:
                row.setdefault("assignment_errors", {})[package_id] = (
                    "PACKAGE_NOT_FOUND" if buy is None else f"The media buy is {buy.phase}.")
                continue
            package = next(p for p in buy.packages if p.package_id == package_id)
            if op["operation"] == "unassign":
                package.creative_ids = [c for c in package.creative_ids if c != creative_id]
            else:
                replaced = op.get("replaces_creative_id")
                package.creative_ids = [c for c in package.creative_ids if c not in (creative_id, replaced)]
                package.creative_ids.append(creative_id)
                row.setdefault("assigned_to", []).append(package_id)
            touched[buy.media_buy_id] = buy
        for buy in touched.values():
            buy.record(now, "creatives_assigned", "Creative assignments changed", actor="buyer",
                       status_changed=False)
            if buy.creatives_assigned:
                agent.lifecycle.creatives_arrived(buy, now)
        agent.stats["creative_syncs"] += 1
        return {"creatives": list(results.values())}

    async def get_media_buys(self, req, ctx):
        await self._poll_faults("get_media_buys")
        raw = req.model_dump(mode="json", exclude_none=True)
        now = time.time()
        history = int(raw.get("include_history") or 0)
        store = self.agent.store
        errors = []
        if raw.get("media_buy_ids"):
            buys = []
            for media_buy_id in raw["media_buy_ids"]:
                buy = store.get(media_buy_id)
                if buy is None:
                    errors.append({"code": "MEDIA_BUY_NOT_FOUND", "message": f"No media buy {media_buy_id!r}.",
                                   "field": "media_buy_ids"})
                else:
                    buys.append(buy)
        else:
            wanted = raw.get("status_filter") or ["active"]
            wanted = {wanted} if isinstance(wanted, str) else set(wanted)
            buys = [b for b in store.buys.values() if b.status(now) in wanted]
        response: dict[str, Any] = {"media_buys": [b.media_buy(now, history) for b in buys]}
        if self.agent.faults.read_omits_fields:
            for entry in response["media_buys"]:
                for name in OMITTED_READ_FIELDS:
                    entry.pop(name, None)
        if errors:
            response["errors"] = errors
        return response

    async def get_media_buy_delivery(self, req, ctx):
        await self._poll_faults("get_media_buy_delivery")
        raw = req.model_dump(mode="json", exclude_none=True)
        now = time.time()
        store = self.agent.store
        if raw.get("media_buy_ids"):
            buys = [self._buy(i) for i in raw["media_buy_ids"]]
        else:
            buys = list(store.buys.values())
        start = min((b.start for b in buys), default=now)
        return {
            "reporting_period": {"start": iso(min(start, now)), "end": iso(now)},
            "media_buy_deliveries": [b.delivery(now) for b in buys],
        }

    async def provide_performance_feedback(self, req, ctx):
        return {"success": True}

    async def list_creatives(self, req, ctx):
        creatives = [
            {"creative_id": c["creative_id"], "name": c.get("name", c["creative_id"]), "status": "approved"}
            for c in self.agent.creatives.values()
        ]
        return {
            "creatives": creatives,
            "query_summary": {"total_matching": len(creatives), "returned": len(creatives)},
            "pagination": {"has_more": False},
        }

    async def list_creative_formats_legacy(self, req, ctx):
        return {"formats": []}
