"""sim: the agent's webhook emitter — MCP webhook payloads, signed per the buyer's registration, with faults.

Payloads are built by the SDK (`create_mcp_webhook_payload`) and serialized once; every retry and
every duplicate posts those exact bytes under the same idempotency_key, only the signature headers
are fresh — which is what a receiver's dedup relies on. Signing is the SDK's WebhookSender in all
three modes: RFC 9421 with the agent's own key (no `authentication` registered), legacy HMAC-SHA256,
or Bearer.

A strict seller (knobs): HMAC over the compact form of the body while posting it with default
separators (hmac_compact_signing), no operation_id (webhook_operation_id off), each webhook once per
push config the buyer holds at the seller, each with its own idempotency_key (webhook_per_push_config),
no retry after any 4xx (webhook_stop_at_4xx).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import httpx
from adcp.webhook_sender import PreparedWebhook, WebhookSender
from adcp.webhooks import create_mcp_webhook_payload, to_wire_dict

from .config import Faults
from .store import PushTarget, iso

log = logging.getLogger("mediabuy_sync.sim.webhooks")

LOG_SIZE = 1000


class WebhookEmitter:
    """One per agent. `emit` is synchronous and never blocks: delivery runs in background tasks."""

    def __init__(
        self,
        agent_id: str,
        *,
        key_pem: bytes,
        key_id: str,
        key_alg: str,
        faults: Callable[[], Faults],
        rng: random.Random,
        stats: Counter,
        fanout: Callable[[PushTarget], list[PushTarget]] = lambda target: [target],
    ):
        self.agent_id = agent_id
        self._key_pem, self._key_id, self._key_alg = key_pem, key_id, key_alg
        self._faults = faults
        self._rng = rng
        self._stats = stats
        self._fanout = fanout
        self._senders: dict[tuple, WebhookSender] = {}
        self._tasks: set[asyncio.Task] = set()
        self._held: list[tuple[PreparedWebhook, PushTarget, int, float, dict]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._seq = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)

    # -- building ---------------------------------------------------------------------------------

    def _prepare(self, target: PushTarget, *, task_id: str, task_type: str, status: str,
                 result: dict[str, Any] | None, message: str | None) -> PreparedWebhook:
        # Fresh per logical delivery; retries and duplicates reuse it with the same bytes.
        key = f"whk_{self.agent_id}_{uuid.uuid4().hex}"
        payload = create_mcp_webhook_payload(
            task_id=task_id,
            status=status,
            task_type=task_type,
            result=result,
            operation_id=target.operation_id or "unset",
            message=message,
            idempotency_key=key,
            token=target.token,
        )
        wire = {**to_wire_dict(payload), "idempotency_key": key}
        if not target.operation_id or not self._faults().webhook_operation_id:
            # Nothing to echo: the spec forbids deriving one from the URL, so omit it like the
            # agents our receiver already tolerates.
            wire.pop("operation_id", None)
        return PreparedWebhook(url=target.url, idempotency_key=key, body=json.dumps(wire).encode())

    def _sender_for(self, target: PushTarget, timeout: float) -> WebhookSender:
        compact = target.scheme == "hmac-sha256" and self._faults().hmac_compact_signing
        cache_key = (target.scheme, target.credentials, timeout, compact)
        sender = self._senders.get(cache_key)
        if sender is None:
            # Buyers in local runs and tests listen on loopback; the SDK refuses those by default.
            common = {"timeout_seconds": timeout, "allow_private_destinations": True}
            if target.scheme == "hmac-sha256":
                sender = WebhookSender.from_adcp_legacy_hmac(
                    (target.credentials or "").encode(), key_id=self.agent_id, **common
                )
                if compact:
                    sender._auth = _CompactSigning(sender._auth)
            elif target.scheme == "bearer":
                sender = WebhookSender.from_bearer_token(target.credentials or "", **common)
            else:
                sender = WebhookSender.from_pem(self._key_pem, key_id=self._key_id, alg=self._key_alg, **common)
            self._senders[cache_key] = sender
        return sender

    # -- emitting ---------------------------------------------------------------------------------

    def emit(self, target: PushTarget | None, *, task_id: str, task_type: str, status: str,
             result: dict[str, Any] | None = None, message: str | None = None) -> dict[str, Any] | None:
        """Queue one webhook (one per push config of the account, webhook_per_push_config) through the
        fault pipeline; returns the (first) log entry (None: no target)."""
        if target is None:
            return None
        targets = self._fanout(target) if self._faults().webhook_per_push_config else [target]
        entries = [self._emit_one(t, task_id=task_id, task_type=task_type, status=status, result=result,
                                  message=message) for t in targets]
        if len(entries) > 1:
            self._stats["webhooks_fanned_out"] += len(entries) - 1
        return entries[0] if entries else None

    def _emit_one(self, target: PushTarget, *, task_id: str, task_type: str, status: str,
                  result: dict[str, Any] | None, message: str | None) -> dict[str, Any] | None:
        try:
            prepared = self._prepare(target, task_id=task_id, task_type=task_type, status=status,
                                     result=result, message=message)
        except Exception:  # a webhook we cannot build must not fail the task that triggered it
            log.exception("cannot build the %s %s webhook for task %s", task_type, status, task_id)
            self._stats["webhooks_unbuildable"] += 1
            return None
        self._seq += 1
        media_buy_id = (result or {}).get("media_buy_id")
        if media_buy_id is None:
            rows = (result or {}).get("media_buy_deliveries") or [{}]
            media_buy_id = rows[0].get("media_buy_id")
        entry: dict[str, Any] = {
            "seq": self._seq, "idempotency_key": prepared.idempotency_key, "task_id": task_id,
            "task_type": task_type, "status": status, "media_buy_id": media_buy_id,
            "media_buy_status": (result or {}).get("media_buy_status"), "url": target.url,
            "scheme": target.scheme, "emitted_at": iso(time.time()), "outcome": "pending",
            "copies": 1, "attempts": 0, "http_status": None,
        }
        self.log.append(entry)
        self._stats["webhooks_emitted"] += 1

        faults = self._faults()
        # One draw per decision, always in the same order, so a seed replays the same faults.
        drop = self._rng.random() < faults.webhook_drop_share
        duplicate = self._rng.random() < faults.webhook_duplicate_share
        delay = faults.webhook_delay_seconds + self._rng.uniform(0, faults.webhook_delay_jitter_seconds)
        if drop:
            entry["outcome"] = "dropped"
            self._stats["webhooks_dropped"] += 1
            return entry
        copies = 2 if duplicate else 1
        entry["copies"] = copies
        if copies > 1:
            self._stats["webhooks_duplicated"] += 1
        if faults.webhook_reorder_window > 1:
            entry["outcome"] = "held"
            self._stats["webhooks_held"] += 1
            self._held.append((prepared, target, copies, delay, entry))
            if len(self._held) >= faults.webhook_reorder_window:
                self.flush_held()
            elif self._flush_handle is None:
                loop = asyncio.get_running_loop()
                self._flush_handle = loop.call_later(faults.webhook_reorder_max_hold_seconds, self.flush_held)
            return entry
        self._spawn(self._deliver_all([(prepared, target, copies, delay, entry)]))
        return entry

    @property
    def held(self) -> int:
        return len(self._held)

    def flush_held(self) -> int:
        """Send every held webhook now, shuffled; returns how many."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        batch, self._held = self._held, []
        if batch:
            self._rng.shuffle(batch)
            self._spawn(self._deliver_all(batch))
        return len(batch)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_all(self, batch) -> None:
        # Sequential on purpose: a shuffled batch then arrives in exactly the shuffled order.
        for prepared, target, copies, delay, entry in batch:
            if delay > 0:
                self._stats["webhooks_delayed"] += 1
                await asyncio.sleep(delay)
            entry["outcome"] = "sending"
            for _ in range(copies):
                await self._deliver(prepared, target, entry)

    async def _deliver(self, prepared: PreparedWebhook, target: PushTarget, entry: dict[str, Any]) -> None:
        faults = self._faults()
        sender = self._sender_for(target, faults.webhook_timeout_seconds)
        for attempt in range(1, faults.webhook_max_attempts + 1):
            entry["attempts"] += 1
            self._stats["webhook_attempts"] += 1
            status_code: int | None = None
            try:
                result = await sender.send_prepared(prepared)
                status_code = result.status_code
            except (httpx.TimeoutException, httpx.TransportError, OSError) as exc:
                entry["last_error"] = f"{type(exc).__name__}: {exc}"[:300]
            except Exception as exc:  # an SSRF refusal or a bad URL: retrying cannot help
                entry.update(outcome="failed", last_error=f"{type(exc).__name__}: {exc}"[:300])
                self._stats["webhooks_failed"] += 1
                log.warning("webhook %s to %s not sent: %s", prepared.idempotency_key, target.url, exc)
                return
            entry["http_status"] = status_code
            if status_code is not None and 200 <= status_code < 300:
                entry["outcome"] = "delivered"
                self._stats["webhooks_sent"] += 1
                return
            retryable = status_code is None or status_code >= 500 or (
                status_code in (408, 429) and not faults.webhook_stop_at_4xx)
            if not retryable:
                entry["outcome"] = "failed"
                self._stats["webhooks_failed"] += 1
                return
            if attempt < faults.webhook_max_attempts:
                self._stats["webhook_retries"] += 1
                await asyncio.sleep(faults.webhook_retry_base_seconds * 2 ** (attempt - 1))
        entry["outcome"] = "failed"
        self._stats["webhooks_failed"] += 1

    async def aclose(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sender in self._senders.values():
            await sender.aclose()


class _CompactSigning:
    """The legacy HMAC signer of a seller that signs the compact JSON of the body it then posts with
    default separators: a receiver checking the bytes it got answers 401 (../shared/SELLERS.md)."""

    def __init__(self, inner):
        self._inner = inner

    def build_auth_headers(self, *, method: str, url: str, body: bytes) -> dict[str, str]:
        compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
        return self._inner.build_auth_headers(method=method, url=url, body=compact)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)
