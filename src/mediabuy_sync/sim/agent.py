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

from .config import AgentSettings, Faults, Timings, apply_knobs
from .control import SimRoutes
from .lifecycle import Lifecycle
from .seller import SimSeller
from .store import BuyStore
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

        alg = "ed25519" if settings.key_algorithm == "ed25519" else "es256"
        self.key_id = f"{settings.id}-whk-{secrets.token_hex(4)}"
        pem, public_jwk = generate_signing_keypair(alg=alg, kid=self.key_id, purpose="webhook-signing")
        self.jwks = {"keys": [public_jwk]}

        self.store = BuyStore(settings.id)
        self.creatives: dict[str, dict[str, Any]] = {}
        self.registry = InMemoryTaskRegistry()
        self.emitter = WebhookEmitter(settings.id, key_pem=pem, key_id=self.key_id, key_alg=alg,
                                      faults=lambda: self.faults, rng=self.rng_webhooks, stats=self.stats)
        self.lifecycle = Lifecycle(self)
        self.platform = SimSeller(self)
        self._clock: asyncio.Task | None = None
        self.closing = asyncio.Event()  # set at shutdown: open MCP streams end on it

    def set_knobs(self, update: dict[str, Any]) -> dict[str, Any]:
        self.timings, self.faults = apply_knobs(self.timings, self.faults, dict(update))
        return self.knobs()

    def knobs(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"timings": asdict(self.timings), "faults": asdict(self.faults)}

    def _enhance(self, method: str, result: dict[str, Any], context: Any) -> None:
        """Name the media buy in the submitted create answer, where the protocol has no field for it."""
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
        )
        return SimRoutes(app, self)

    def start_clock(self) -> None:
        self._clock = asyncio.get_running_loop().create_task(self.lifecycle.run())

    async def aclose(self) -> None:
        self.closing.set()
        if self._clock is not None:
            self._clock.cancel()
            await asyncio.gather(self._clock, return_exceptions=True)
        await self.emitter.aclose()
