"""sim: one simulated agent — its settings, seeded randomness, signing key, store, seller, clock and ASGI app."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from typing import Any

from adcp.decisioning.task_registry import InMemoryTaskRegistry
from adcp.signing import generate_signing_keypair
from adcp.testing import build_asgi_app
from adcp.validation.client_hooks import SERVER_DEFAULT_VALIDATION, ValidationHookConfig

from .accounts import UNSENT_ACCOUNT
from .config import AgentSettings, Faults, Timings, apply_knobs
from .control import SimRoutes
from .lifecycle import Lifecycle
from .seller import SimSeller
from .store import BuyStore, PushTarget
from .webhooks import WebhookEmitter


class SimAgent:
    def __init__(self, settings: AgentSettings, *, seed: int, host: str):
        self.settings = settings
        self.timings: Timings = settings.timings
        self.faults: Faults = settings.faults
        self.host = host
        self.base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{settings.port}"
        self.stats: Counter = Counter()

        def stream(concern: str) -> random.Random:
            # One stream per concern, so e.g. extra polls never shift which webhooks get dropped.
            return random.Random(f"{seed}:{settings.id}:{concern}")

        self.rng_decisions = stream("decisions")
        self.rng_webhooks = stream("webhooks")
        self.rng_polls = stream("polls")
        self.rng_silent = stream("silent")
        self.rng_delivery = stream("delivery")
        self.rng_updates = stream("updates")

        alg = "ed25519" if settings.key_algorithm == "ed25519" else "es256"
        self.key_id = f"{settings.id}-whk-{secrets.token_hex(4)}"
        pem, public_jwk = generate_signing_keypair(alg=alg, kid=self.key_id, purpose="webhook-signing")
        self.jwks = {"keys": [public_jwk]}

        self.store = BuyStore(settings.id)
        self.creatives: dict[str, dict[str, Any]] = {}
        # account id -> the push configs the buyer registered there, by identity (first seen first)
        self.push_configs: dict[str, dict[tuple, PushTarget]] = {}
        self.registry = InMemoryTaskRegistry()
        self.emitter = WebhookEmitter(settings.id, key_pem=pem, key_id=self.key_id, key_alg=alg,
                                      faults=lambda: self.faults, rng=self.rng_webhooks, stats=self.stats,
                                      fanout=self._push_configs_of)
        self.lifecycle = Lifecycle(self)
        self.platform = SimSeller(self)
        self._clock: asyncio.Task | None = None
        self.closing = asyncio.Event()  # set at shutdown: open MCP streams end on it

    def register_push(self, account_id: str, config: dict[str, Any] | None) -> PushTarget | None:
        """A push_notification_config from a create or update: remembered per account, as a real seller
        keeps every config a buyer registers and sends each webhook to all of them."""
        target = PushTarget.from_wire(config)
        if target is not None:
            target.account_id = account_id
            self.push_configs.setdefault(account_id, {}).setdefault(target.identity(), target)
        return target

    def _push_configs_of(self, target: PushTarget) -> list[PushTarget]:
        held = self.push_configs.get(target.account_id or "", {})
        return list(held.values()) if target.identity() in held else [target]

    def set_knobs(self, update: dict[str, Any]) -> dict[str, Any]:
        self.timings, self.faults = apply_knobs(self.timings, self.faults, dict(update))
        return self.knobs()

    def knobs(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"timings": asdict(self.timings), "faults": asdict(self.faults)}

    def _enhance(self, method: str, result: dict[str, Any], context: Any) -> None:
        """Name the media buy in the submitted create answer, where the protocol has no field for it;
        a strict seller's reads carry no adcp_version (read_omits_fields)."""
        if method == "get_media_buys" and self.faults.read_omits_fields:
            result.pop("adcp_version", None)
        if method == "create_media_buy" and result.get("status") == "submitted" and result.get("task_id"):
            buy = self.store.by_task(result["task_id"])
            if buy is not None:
                result["ext"] = {**(result.get("ext") or {}), "media_buy_id": buy.media_buy_id}

    def build_app(self):
        loopback = self.host in ("127.0.0.1", "localhost", "::1")
        app = build_asgi_app(
            self.platform,
            name=self.settings.id,
            registry=self.registry,
            # We publish task webhooks ourselves (SimSeller declares it); the SDK must not.
            auto_emit_task_webhooks=False,
            validate_at_init=False,
            response_enhancer=self._enhance,
            discovery_base_url=self.base_url,
            enable_dns_rebinding_protection=None if loopback else False,
            # A seller that answers short of the schema (a synchronous create, reads without revision)
            # must not have its answers refused by its own SDK; a polite one keeps the strict check.
            validation=self._validation(),
            pre_validation_hooks={"update_media_buy": self._update_without_account},
        )
        return SimRoutes(app, self)

    def _update_without_account(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        """A strict seller takes an update without `account` (and refuses one): the SDK's model wants one."""
        if self.faults.refuse_unknown_fields and "account" not in args:
            return {**args, "account": {"account_id": UNSENT_ACCOUNT}}
        return args

    def _validation(self) -> ValidationHookConfig:
        faults = self.settings.faults
        # A real seller's checks are its own: the update it takes has no `account` (which the schema
        # requires), and what it answers may lack what the schema requires.
        if faults.read_omits_fields or faults.sync_create or faults.update_noop_share or faults.refuse_unknown_fields:
            return ValidationHookConfig(requests="off", responses="off")
        return SERVER_DEFAULT_VALIDATION

    def start_clock(self) -> None:
        self._clock = asyncio.get_running_loop().create_task(self.lifecycle.run())

    async def aclose(self) -> None:
        self.closing.set()
        if self._clock is not None:
            self._clock.cancel()
            await asyncio.gather(self._clock, return_exceptions=True)
        await self.emitter.aclose()
