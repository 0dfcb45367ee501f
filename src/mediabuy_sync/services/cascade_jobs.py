"""services: one sales agent's share of a cascade — send each pending item's request, apply the answers.

The task (worker/tasks.py) runs one job per (cascade, agent), so agents are called in parallel and a
slow or failing agent holds up only its own items. A job that meets an unreachable, timing-out or
transiently failing agent asks to be retried (exponential backoff with jitter, a few seconds at
most); after the last attempt — or at once for an error a retry can't fix — its items fail with the
error recorded on the item and on the media buy. A job run twice (a redelivery) skips what is done.

Imports the ADCP client, so only worker processes load this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import metrics
from ..adcp import client
from ..adcp import requests as adcp
from ..config import settings
from ..domain.cascades import (
    CASCADE_TASK, NOT_CONFIRMED, SUBMITTABLE, ItemState, effect_shown, is_retryable, retry_countdown,
)
from ..domain.packages import PackageStatus
from ..domain.polling import next_poll_in
from ..domain.reports import CreativeReview, Outcome, Source, StatusReport
from ..domain.statuses import Status, from_media_buy
from ..store import campaigns, cascades, media_buys
from ..store.db import transaction
from . import notifications
from .delivery import apply_reviews
from .polling import load_agent
from .status_path import UnknownMediaBuy, apply_report

log = logging.getLogger(__name__)

NOT_READY = "not_ready"  # the agent has not named the buy or its packages yet: worth another attempt
NOT_CONFIGURED = "not_configured"  # on our side: no webhook secret to register, no such agent

CALLS = {
    "create_media_buy": client.create_media_buy,
    "update_media_buy": client.update_media_buy,
    "sync_creatives": client.sync_creatives,
}


@dataclass
class JobResult:
    retry_in: float | None = None  # seconds until the agent's job should run again
    campaigns_changed: set[str] = field(default_factory=set)
    finished: str | None = None  # the cascade's final state, when this job finished it


@dataclass
class Attempt:
    error: client.AgentCallError | None = None
    attempts: int = 0
    campaigns_changed: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp() -> str:
    return _now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_job(cascade_id: int, agent_id: str, max_attempts: int, timeout: float) -> JobResult:
    """Process the agent's pending items of the cascade once."""
    with transaction() as conn:
        items = cascades.pending_items(conn, cascade_id, agent_id)
    result = JobResult()
    if items:
        agent = load_agent(agent_id)
        if agent is None:
            error = client.AgentCallError(NOT_CONFIGURED, f"sales agent {agent_id!r} is not registered")
            attempts = [Attempt(error, max_attempts) for _ in items]
        else:
            async def every_item():  # gathered on the client's own event loop
                return await asyncio.gather(*(_attempt(agent, cascade_id, item, max_attempts, timeout)
                                              for item in items))

            attempts = client.run(every_item())
        retrying = []
        for item, attempt in zip(items, attempts):
            result.campaigns_changed |= attempt.campaigns_changed
            if attempt.error is None:
                continue
            if attempt.error.kind == NOT_CONFIRMED or (is_retryable(attempt.error.kind, attempt.error.adcp_error)
                                                       and attempt.attempts < max_attempts):
                retrying.append((item, attempt))  # a confirmation is read again until its own deadline
            else:
                result.campaigns_changed |= _give_up(cascade_id, agent_id, item, attempt)
        if retrying:
            result.retry_in = retry_countdown(max(max(a.attempts for _, a in retrying), 1))
            with transaction() as conn:
                for item, _ in retrying:
                    cascades.append_log(conn, cascade_id, item["media_buy_id"],
                                        [f"{_stamp()} retrying in {result.retry_in:.2f} s"])
            return result
    with transaction() as conn:
        result.finished = cascades.finish_if_complete(conn, cascade_id)
    if result.finished:
        log.info("cascade %s %s", cascade_id, result.finished)
    return result


async def _attempt(agent: client.Agent, cascade_id: int, item: dict, max_attempts: int, timeout: float) -> Attempt:
    buy_id, task = item["media_buy_id"], CASCADE_TASK[item["kind"]]
    if item["answered_at"] is not None:  # the seller said done: only its buy is to show it now
        return await _confirm(agent, cascade_id, item, item["request"], item["answered_at"], timeout)
    with transaction() as conn:
        number = cascades.count_attempt(conn, cascade_id, buy_id)
    if number is None:
        return Attempt()  # done meanwhile: a concurrent run of this job finished it
    lines = [f"{_stamp()} attempt {number}/{max_attempts}: {task} to {agent.endpoint_uri}"]
    started = time.monotonic()
    try:
        request = await _resolved(agent, cascade_id, item, timeout)
        with transaction() as conn:
            sendable = _with_secret(conn, agent.id, request)
        sent_at = _now()
        answer = await CALLS[task](agent, sendable, timeout)
        parsed = adcp.read_create_answer(answer) if task == "create_media_buy" else None
    except (client.AgentCallError, ValueError) as exc:
        error = exc if isinstance(exc, client.AgentCallError) else client.AgentCallError(client.BAD_RESPONSE, str(exc))
        lines.append(f"{_stamp()} {error.kind}: {error.message} ({time.monotonic() - started:.2f} s)")
        with transaction() as conn:
            cascades.record_error(conn, cascade_id, buy_id, {**error.as_dict(), "attempts": number, "at": _stamp()})
            cascades.append_log(conn, cascade_id, buy_id, lines)
        log.warning("cascade %s %s to %s for %s, attempt %s: %s", cascade_id, task, agent.id, buy_id, number, error)
        return Attempt(error, number)
    status = (answer.get("data") or {}).get("status") or answer.get("status")
    lines.append(f"{_stamp()} answered {status} ({time.monotonic() - started:.2f} s)")
    changed: set[str] = set()
    # A seller's "done" for an update is checked against its buy (some answer done and change nothing).
    confirm = task == "update_media_buy" and _verifiable(request)
    answered_at = None
    with transaction() as conn:
        if confirm:
            answered_at = cascades.item_answered(conn, cascade_id, buy_id, answer)
            applied = answered_at is not None
        else:
            applied = cascades.item_done(conn, cascade_id, buy_id, answer)
            if applied:
                metrics.CASCADE_ITEMS.labels(item["kind"], ItemState.DONE).inc()
        if applied:
            changed = _apply(conn, agent.id, item, request, answer, parsed, sent_at)
            if not confirm:
                changed |= _archive_if_deleted(conn, agent.id, cascade_id, buy_id, request)
        cascades.append_log(conn, cascade_id, buy_id, lines)
    if answered_at is not None:
        confirmed = await _confirm(agent, cascade_id, item, request, answered_at, timeout)
        return Attempt(confirmed.error, number, changed | confirmed.campaigns_changed)
    return Attempt(None, number, changed)


def _verifiable(request: dict) -> bool:
    """Whether a read of the buy could show what the request asks (see domain effect_shown)."""
    return (bool(request.get("canceled")) or "paused" in request
            or any(k in p for p in request.get("packages") or () for k in ("canceled", "paused", "budget")))


async def _confirm(agent: client.Agent, cascade_id: int, item: dict, request: dict, answered_at: datetime,
                   timeout: float) -> Attempt:
    """Read the buy back: done when it shows the request's effect; unconfirmed once
    MEDIABUY_CASCADE_CONFIRM_SECONDS have passed since the answer without it; else read again soon."""
    buy_id = item["media_buy_id"]
    adcp_id = request.get("media_buy_id") or item["adcp_media_buy_id"]
    try:
        polled = await client.get_media_buys(agent, [adcp_id], timeout)
    except client.AgentCallError as exc:  # the read failed: try again, within the same deadline
        polled, read_error = [], exc
    else:
        read_error = None
    seen = next((b for b in polled if b.adcp_media_buy_id == adcp_id), None)
    shown = effect_shown(request, seen.status, list(seen.packages)) if seen is not None else False
    waited = (_now() - answered_at).total_seconds()
    with transaction() as conn:
        if shown is not False:
            changed: set[str] = set()
            if cascades.item_confirmed(conn, cascade_id, buy_id):
                metrics.CASCADE_ITEMS.labels(item["kind"], ItemState.DONE).inc()
                cascades.append_log(conn, cascade_id, buy_id, [f"{_stamp()} confirmed: the buy shows it ({waited:.1f} s)"])
                changed = _archive_if_deleted(conn, agent.id, cascade_id, buy_id, request)
            return Attempt(campaigns_changed=changed)
        why = (f"the seller answered done {waited:.0f} s ago but its buy does not show it"
               + (f" (last read: {read_error.message})" if read_error else f" (status {getattr(seen, 'status', None)!r})"))
        if waited >= settings().cascade_confirm_seconds:
            error = {"kind": ItemState.UNCONFIRMED.value, "message": why, "at": _stamp()}
            if cascades.item_unconfirmed(conn, cascade_id, buy_id, error):
                metrics.CASCADE_ITEMS.labels(item["kind"], ItemState.UNCONFIRMED).inc()
                media_buys.set_last_error(conn, buy_id, error)
                cascades.append_log(conn, cascade_id, buy_id, [f"{_stamp()} unconfirmed: {why}"])
                log.warning("cascade %s: %s unconfirmed: %s", cascade_id, buy_id, why)
            return Attempt()
        cascades.append_log(conn, cascade_id, buy_id, [f"{_stamp()} not shown yet: {why}"])
    return Attempt(client.AgentCallError(NOT_CONFIRMED, why), item["attempts"])


async def _resolved(agent: client.Agent, cascade_id: int, item: dict, timeout: float) -> dict:
    """The item's request with the agent's ids for our buy and packages (learnt from get_media_buys if
    the agent has not told us its package ids yet), stored so that later attempts send the same."""
    request = item["request"]
    if item["kind"] == "execute":
        return request
    buy_id = item["media_buy_id"]
    with transaction() as conn:
        buy = media_buys.for_calls(conn, buy_id)
        packages = media_buys.packages_of_buy(conn, buy_id)
    if not buy["adcp_media_buy_id"]:
        raise client.AgentCallError(NOT_READY, "the agent has not named this media buy yet")
    known = {p["id"]: p["adcp_package_id"] for p in packages if p["adcp_package_id"]}
    ours = {p["id"] for p in packages}
    missing = [ref for ref in adcp.package_refs(request) if ref in ours and ref not in known]
    if missing:
        polled = await client.get_media_buys(agent, [buy["adcp_media_buy_id"]], timeout)
        theirs = [p for b in polled if b.adcp_media_buy_id == buy["adcp_media_buy_id"] for p in b.packages]
        learnt = adcp.match_packages([(p["id"], p["product_id"]) for p in packages], theirs)
        with transaction() as conn:
            media_buys.learn_package_ids(conn, buy_id, learnt)
        known.update(learnt)
        still = [ref for ref in missing if ref not in known]
        if still:
            raise client.AgentCallError(NOT_READY, f"the agent has not named packages {', '.join(still)} yet")
    resolved = adcp.with_agent_ids(request, buy["adcp_media_buy_id"], known)
    if resolved != request:
        with transaction() as conn:
            cascades.store_request(conn, cascade_id, buy_id, resolved)
    return resolved


# The parts of a request that tell the agent where and how to send us webhooks.
WEBHOOK_TARGETS = ("push_notification_config", "reporting_webhook")


def _with_secret(conn, agent_id: str, request: dict) -> dict:
    """The request as sent: each webhook target's credential reference replaced by the secret itself
    (the newest active one if the referenced one was retired meanwhile)."""
    sent = dict(request)
    for part in WEBHOOK_TARGETS:
        target = request.get(part) or {}
        auth = target.get("authentication") or {}
        ref = auth.get("credentials")
        if not isinstance(ref, dict):
            continue
        secret = cascades.credential_secret(conn, ref[adcp.CREDENTIAL_REF]) if ref.get(adcp.CREDENTIAL_REF) else None
        if secret is None:
            kind = "hmac-sha256" if auth.get("schemes") == ["HMAC-SHA256"] else "bearer"
            newest = cascades.newest_secret(conn, agent_id, kind)
            if newest is None:
                raise client.AgentCallError(NOT_CONFIGURED, f"agent {agent_id} has no active {kind} secret to sign webhooks with")
            secret = newest["secret"]
        sent[part] = {**target, "authentication": {**auth, "credentials": secret}}
    return sent


def _apply(conn, agent_id: str, item: dict, request: dict, answer: dict, parsed: adcp.CreateAnswer | None,
           sent_at: datetime) -> set[str]:
    """What a successful answer changes here; returns the campaigns whose buys changed status."""
    buy_id, task = item["media_buy_id"], CASCADE_TASK[item["kind"]]
    media_buys.set_last_error(conn, buy_id, None)
    report = None
    if task == "create_media_buy":
        media_buys.record_submission(conn, buy_id, parsed.task_id, parsed.adcp_media_buy_id,
                                next_poll_in(parsed.status, None, "submitted"))
        if parsed.packages:
            ours = [(p["id"], p["product_id"]) for p in media_buys.packages_of_buy(conn, buy_id)]
            media_buys.learn_package_ids(conn, buy_id, adcp.match_packages(ours, parsed.packages))
        # as of the moment we sent it: any webhook the agent sent since is newer and wins
        report = StatusReport(parsed.adcp_media_buy_id, buy_id, parsed.task_id, parsed.status, parsed.adcp_status, sent_at,
                              parsed.message)
    elif task == "update_media_buy":
        media_buys.set_package_statuses(conn, buy_id, _package_statuses(conn, buy_id, request))
        answered = adcp.answered_buy_status(answer)
        if answered:
            report = StatusReport(item["adcp_media_buy_id"] or request.get("media_buy_id"), buy_id, None,
                                  from_media_buy(answered), answered, _now())
    else:
        reviews = [CreativeReview(c["creative_id"], c.get("action"), c.get("status"), tuple(c.get("assigned_to") or ()),
                                  tuple(c.get("errors") or ())) for c in (answer.get("data") or {}).get("creatives") or ()]
        apply_reviews(conn, [buy_id], reviews, _now(), None)
    if report is None:
        return set()
    applied = apply_report(conn, agent_id, report, source=Source.API)
    if applied.outcome == Outcome.APPLIED:
        campaigns.bump(conn, applied.campaign_id)
        return {applied.campaign_id}
    return set()


def _archive_if_deleted(conn, agent_id: str, cascade_id: int, buy_id: str, request: dict) -> set[str]:
    """A live buy the buyer deleted was sent a cancel: once the agent accepted it, the buy is CANCELED
    (if no report said so yet) and then ARCHIVED, through the status path; returns the campaign changed."""
    if not request.get("canceled") or not cascades.deletes_buy(conn, cascade_id, buy_id):
        return set()
    buy = media_buys.for_calls(conn, buy_id)
    changed: set[str] = set()
    steps = ([] if Status(buy["status"]) == Status.CANCELED else [Status.CANCELED]) + [Status.ARCHIVED]
    for status in steps:
        report = StatusReport(buy["adcp_media_buy_id"], buy_id, None, status, None, _now())
        applied = apply_report(conn, agent_id, report, source=Source.API)
        if applied.outcome != Outcome.APPLIED:
            log.warning("cascade %s: deleted buy %s not %s (%s)", cascade_id, buy_id, status.value, applied.outcome)
            break
        campaigns.bump(conn, applied.campaign_id)
        changed.add(applied.campaign_id)
    cascades.append_log(conn, cascade_id, buy_id, [f"{_stamp()} deleted: {' then '.join(s.value for s in steps)}"])
    return changed


def _package_statuses(conn, buy_id: str, request: dict) -> dict[str, str]:
    """Our packages' statuses after an accepted update: paused, resumed or canceled, by package or
    for the whole buy."""
    by_agent_id = {p["adcp_package_id"]: p["id"] for p in media_buys.packages_of_buy(conn, buy_id) if p["adcp_package_id"]}
    statuses = {}
    if request.get("canceled"):
        statuses = {pid: PackageStatus.CANCELED for pid in by_agent_id.values()}
    elif "paused" in request:
        statuses = {pid: _paused_or_active(request["paused"]) for pid in by_agent_id.values()}
    for package in request.get("packages") or ():
        pid = by_agent_id.get(package.get("package_id"), package.get("package_id"))
        if package.get("canceled"):
            statuses[pid] = PackageStatus.CANCELED
        elif "paused" in package:
            statuses[pid] = _paused_or_active(package["paused"])
    return statuses


def _paused_or_active(paused: bool) -> PackageStatus:
    return PackageStatus.PAUSED if paused else PackageStatus.ACTIVE


def _give_up(cascade_id: int, agent_id: str, item: dict, attempt: Attempt) -> set[str]:
    """The item fails: its error on the item and on the buy; a buy whose create failed is FAILED."""
    buy_id, error = item["media_buy_id"], attempt.error
    recorded = {**error.as_dict(), "attempts": attempt.attempts, "at": _stamp()}
    changed: set[str] = set()
    with transaction() as conn:
        if cascades.item_failed(conn, cascade_id, buy_id, recorded):
            metrics.CASCADE_ITEMS.labels(item["kind"], ItemState.FAILED).inc()
            media_buys.set_last_error(conn, buy_id, recorded)
            buy = media_buys.for_calls(conn, buy_id)
            if error.kind in (client.UNREACHABLE, client.TIMEOUT):  # the buyer's systems hear of it, in this transaction
                notifications.agent_unreachable(conn, buy["campaign_id"], agent_id, cascade_id, buy_id, error.kind,
                                                error.message)
            # Not if a webhook moved the buy on meanwhile: then the agent got the create after all.
            if item["kind"] == "execute" and Status(buy["status"]) in SUBMITTABLE:
                report = StatusReport(buy["adcp_media_buy_id"], buy_id, None, Status.FAILED, None, _now())
                try:
                    applied = apply_report(conn, agent_id, report, source=Source.API)
                except UnknownMediaBuy:
                    applied = None
                if applied is not None and applied.outcome == Outcome.APPLIED:
                    campaigns.bump(conn, applied.campaign_id)
                    changed.add(applied.campaign_id)
        cascades.append_log(conn, cascade_id, buy_id, [
            f"{_stamp()} gave up after {attempt.attempts} attempt(s): {error.kind}: {error.message}"])
    log.warning("cascade %s: %s failed for good: %s", cascade_id, buy_id, error)
    return changed
