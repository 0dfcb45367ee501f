"""sim: the lifecycle clock — what the seller does to each buy as time passes, and the webhooks it sends.

submitted ─(approval_delay)─▶ rejected                       (reject_share)
                            ├▶ input-required/pending_creatives ─(creatives + activation_delay)─▶ active
                            └▶ active (pending_start before the flight starts)
active ⇄ paused (buyer, or the seller silently) · any live buy ─(end_time)─▶ completed (final delivery report)

The create task (issued by the SDK's registry) follows the buy: input-required is a progress update,
activation completes it, rejection fails it — so get_task_status agrees with the webhooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from adcp.decisioning.types import AdcpError

from .store import CANCELED, COMPLETED, LIVE, PENDING_CREATIVES, REJECTED, SUBMITTED, Buy, iso

if TYPE_CHECKING:
    from .agent import SimAgent

log = logging.getLogger("mediabuy_sync.sim.lifecycle")

REJECTION = ("PRODUCT_UNAVAILABLE", "Inventory is no longer available for the requested flight.")
INPUT_REQUIRED_MESSAGE = "Approved; assign creatives to the packages with sync_creatives to start delivery."


class Lifecycle:
    def __init__(self, agent: SimAgent):
        self.agent = agent

    # -- task registry: the create task mirrors the buy ------------------------------------------

    def _registry_tasks(self, buy: Buy) -> tuple[str, ...]:
        return (buy.task_id, *buy.alias_task_ids) if buy.registry_task else ()

    async def _task_progress(self, buy: Buy, progress: dict[str, Any]) -> None:
        for task_id in self._registry_tasks(buy):
            await self.agent.registry.update_progress(task_id, progress)

    async def _task_complete(self, buy: Buy, now: float) -> None:
        if buy.task_status in ("completed", "rejected", "failed"):
            return
        buy.task_status = "completed"
        for task_id in self._registry_tasks(buy):
            try:
                await self.agent.registry.complete(task_id, buy.create_success(now))
            except ValueError:  # already terminal: a replayed create shares its buy's task
                pass

    async def _task_fail(self, buy: Buy, code: str, message: str, status: str) -> None:
        if buy.task_status in ("completed", "rejected", "failed"):
            return
        buy.task_status = status
        error = AdcpError(code, message=message, recovery="terminal").to_wire()
        for task_id in self._registry_tasks(buy):
            try:
                await self.agent.registry.fail(task_id, error)
            except ValueError:
                pass

    def _emit_create(self, buy: Buy, status: str, result: dict[str, Any], message: str | None = None) -> None:
        self.agent.emitter.emit(buy.push, task_id=buy.task_id, task_type="create_media_buy",
                                status=status, result=result, message=message)

    def decided_at_create(self, buy: Buy, now: float) -> None:
        """sync_create: the seller decides inside the create call — waiting on creatives (the input-required
        share, when the packages have none) or live; never rejected (a refusal would be the call's error).
        The one webhook that follows says little: `result: {}` and a task id the buyer never saw, when the
        seller sends no operation ids (webhook_operation_id off)."""
        draw = self.agent.rng_decisions.random()
        if draw < self.agent.timings.input_required_share and not buy.creatives_assigned:
            buy.phase = PENDING_CREATIVES
            buy.confirmed_at = now
            buy.task_status = "input-required"
            buy.record(now, "pending_creatives", INPUT_REQUIRED_MESSAGE)
        else:
            buy.phase = LIVE
            buy.confirmed_at = now
            buy.started = now >= buy.start
            buy.task_status = "completed"
            buy.record(now, "activated", "Approved and live" if buy.started else "Approved; waiting for the flight")
        terse = not self.agent.faults.webhook_operation_id
        self._emit_create(buy, "completed", {} if terse else buy.lifecycle_result(now))

    # -- transitions ------------------------------------------------------------------------------

    def created(self, buy: Buy, now: float) -> None:
        buy.decide_at = now + self.agent.timings.approval_delay_seconds
        if self.agent.faults.submitted_webhook:
            self._emit_create(buy, "submitted", {"media_buy_id": buy.media_buy_id},
                              "Received; the buy awaits the seller's approval.")

    async def decide(self, buy: Buy, now: float) -> None:
        timings = self.agent.timings
        draw = self.agent.rng_decisions.random()
        buy.decide_at = None
        if draw < timings.reject_share:
            buy.phase = REJECTED
            buy.rejection_reason = REJECTION[1]
            buy.record(now, "rejected", REJECTION[1])
            await self._task_fail(buy, *REJECTION, status="rejected")
            self._emit_create(buy, "rejected", {**buy.lifecycle_result(now),
                                                "errors": [{"code": REJECTION[0], "message": REJECTION[1]}]},
                              REJECTION[1])
        elif draw < timings.reject_share + timings.input_required_share and not buy.creatives_assigned:
            buy.phase = PENDING_CREATIVES
            buy.confirmed_at = now
            buy.task_status = "input-required"
            buy.record(now, "pending_creatives", INPUT_REQUIRED_MESSAGE)
            await self._task_progress(buy, {"status": "input-required", **buy.lifecycle_result(now)})
            self._emit_create(buy, "input-required", buy.lifecycle_result(now), INPUT_REQUIRED_MESSAGE)
        else:
            await self.go_live(buy, now)

    async def go_live(self, buy: Buy, now: float) -> None:
        buy.phase = LIVE
        buy.activate_at = None
        if buy.confirmed_at is None:
            buy.confirmed_at = now
        buy.started = now >= buy.start
        buy.record(now, "activated", "Approved and live" if buy.started else "Approved; waiting for the flight")
        await self._task_complete(buy, now)
        result = buy.create_success(now)
        if self.agent.faults.approval_status_word and result["media_buy_status"] == "active":
            # One seller's approval webhook says "completed" for a buy that just became active.
            result["media_buy_status"] = self.agent.faults.approval_status_word
        self._emit_create(buy, "completed", result)

    def creatives_arrived(self, buy: Buy, now: float) -> None:
        if buy.phase == PENDING_CREATIVES and buy.activate_at is None:
            buy.activate_at = now + self.agent.timings.activation_delay_seconds

    async def buyer_canceled(self, buy: Buy) -> None:
        """A buy canceled before the seller decided ends its create task too."""
        buy.decide_at = buy.activate_at = None
        await self._task_fail(buy, "INVALID_STATE", "Canceled by the buyer.", "failed")

    async def set_status_silently(self, buy: Buy, status: str, now: float, reason: str | None = None) -> None:
        """A seller-side change nobody is told about (POST /_sim/buys/<id>/status, silent_change knob)."""
        before = buy.status(now)
        buy.decide_at = None
        if status in ("active", "paused"):
            buy.phase = LIVE
            buy.paused = status == "paused"
            buy.confirmed_at = buy.confirmed_at or now
            buy.activate_at = None
            if status == "active" and now < buy.start:
                buy.start = now  # "active" is a promise to deliver now
            buy.started = now >= buy.start
            await self._task_complete(buy, now)
        elif status == "pending_creatives":
            buy.phase = PENDING_CREATIVES
            buy.confirmed_at = buy.confirmed_at or now
            buy.activate_at = None
        elif status == REJECTED:
            buy.phase = REJECTED
            buy.rejection_reason = reason or REJECTION[1]
            await self._task_fail(buy, REJECTION[0], buy.rejection_reason, "rejected")
        elif status == CANCELED:
            buy.phase = CANCELED
            buy.cancellation = {"canceled_at": iso(now), "canceled_by": "seller",
                                "reason": (reason or "Canceled by the seller.")[:500]}
            await self._task_fail(buy, "INVALID_STATE", buy.cancellation["reason"], "failed")
        elif status == COMPLETED:
            buy.phase = COMPLETED
            await self._task_complete(buy, now)
        action = {"active": "resumed" if before == "paused" else "activated"}.get(status, status)
        buy.record(now, action, reason or f"{before} → {status} (seller, no notification)")
        self.agent.stats["silent_changes"] += 1

    # -- delivery ---------------------------------------------------------------------------------

    def _grow(self, buy: Buy) -> None:
        timings, rng = self.agent.timings, self.agent.rng_delivery
        for package in buy.packages:
            if package.paused or package.canceled:
                continue
            impressions = int(timings.impressions_per_report * rng.uniform(0.8, 1.2))
            spend = impressions * package.cpm / 1000
            if package.budget is not None and package.spend + spend > package.budget:
                # A package never overspends its budget: deliver what is left of it.
                spend = max(package.budget - package.spend, 0.0)
                impressions = int(spend * 1000 / package.cpm) if package.cpm else 0
            package.impressions += impressions
            package.spend += spend
            package.clicks += int(round(impressions * timings.click_rate * rng.uniform(0.5, 1.5)))

    def send_report(self, buy: Buy, now: float, notification_type: str) -> None:
        buy.report_sequence += 1
        buy.last_report_at = now
        result: dict[str, Any] = {
            "notification_type": notification_type,
            "sequence_number": buy.report_sequence,
            "reporting_period": {"start": iso(min(buy.start, now)), "end": iso(now)},
            "media_buy_deliveries": [buy.delivery(now)],
        }
        interval = self.agent.timings.delivery_interval_seconds
        if notification_type != "final" and interval > 0:
            result["next_expected_at"] = iso(now + interval)
        target = buy.reporting or buy.push
        if target is not None:
            self.agent.stats["delivery_reports"] += 1
        self.agent.emitter.emit(target, task_id=buy.task_id, task_type="media_buy_delivery",
                                status="completed", result=result)

    # -- the clock --------------------------------------------------------------------------------

    async def tick(self, now: float, elapsed: float) -> None:
        for buy in list(self.agent.store.buys.values()):
            if buy.terminal:
                continue
            try:
                await self._tick_buy(buy, now, elapsed)
            except Exception:  # one bad buy must not stop every other buy's clock
                log.exception("lifecycle of %s failed", buy.media_buy_id)

    async def _tick_buy(self, buy: Buy, now: float, elapsed: float) -> None:
        timings, faults = self.agent.timings, self.agent.faults
        if buy.phase == SUBMITTED:
            if buy.decide_at is not None and now >= buy.decide_at:
                await self.decide(buy, now)
            return
        if buy.phase == PENDING_CREATIVES and buy.activate_at is not None and now >= buy.activate_at:
            await self.go_live(buy, now)
        if now >= buy.end and buy.phase in (LIVE, PENDING_CREATIVES):
            await self._complete(buy, now)
            return
        if buy.phase != LIVE:
            return
        if not buy.started and now >= buy.start:
            buy.started = True
            buy.record(now, "flight_started", "The flight started; delivering")
        if faults.silent_change_per_minute and buy.started:
            if self.agent.rng_silent.random() < faults.silent_change_per_minute * elapsed / 60:
                await self.set_status_silently(buy, "active" if buy.paused else "paused", now)
        interval = timings.delivery_interval_seconds
        if interval <= 0 or not buy.started or buy.paused:
            return
        if buy.next_report_at is None or buy.next_report_at > now + interval:  # new, or the knob shrank
            buy.next_report_at = now + interval
        elif now >= buy.next_report_at:
            buy.next_report_at = now + interval
            self._grow(buy)
            self.send_report(buy, now, "scheduled")

    async def _complete(self, buy: Buy, now: float) -> None:
        if buy.started and not buy.paused:
            self._grow(buy)  # the tail of the flight since the last report
        buy.phase = COMPLETED
        buy.record(now, "completed", "The flight ended")
        await self._task_complete(buy, now)
        self.send_report(buy, now, "final")

    async def run(self) -> None:
        last = time.time()
        while True:
            await asyncio.sleep(self.agent.timings.tick_seconds)
            now = time.time()
            await self.tick(now, now - last)
            last = now
