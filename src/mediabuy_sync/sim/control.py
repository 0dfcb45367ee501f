"""sim: everything an agent serves besides MCP — its JWKS, the /_sim/ control API, and HTTP-level poll faults.

Control API (JSON, unauthenticated — the simulator binds to loopback by default):

    GET  /_sim/buys                      every buy, with phase, history, push target, delivery totals
    GET  /_sim/buys/<id>
    POST /_sim/buys/<id>/status          {"status": "paused", "reason"?: "…"} — seller-side, no webhook
    GET  /_sim/stats                     counters: webhooks emitted/sent/dropped/duplicated/…, polls …
    GET  /_sim/knobs                     {"timings": {…}, "faults": {…}}
    POST /_sim/knobs                     same shape (or flat); all-or-nothing, 400 names a bad key
    GET  /_sim/webhooks[?media_buy_id=…] the emitter's log, oldest first (last 1000)
    GET  /_sim/updates[?media_buy_id=…]  update_media_buy by idempotency key: request (credentials redacted), answer, replays
    POST /_sim/webhooks/flush            send the webhooks held for reordering now
    GET  /_sim/accounts                  the seller's accounts (preconfigured and from sync_accounts), auth
    GET  /_sim/products                  the catalog get_products serves (empty for a polite agent)

/mcp itself answers HTTP 401 AUTH_REQUIRED without an accepted token when the agent requires one (auth.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, Router

from . import catalog
from .auth import refusal
from .config import ConfigError
from .seller import POLL_TASKS
from .store import SETTABLE_STATUSES

if TYPE_CHECKING:
    from .agent import SimAgent

JWKS_PATH = "/.well-known/jwks.json"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ConfigError("the body must be a JSON object")
    return body


def _without_credentials(value: Any) -> Any:
    """A copy of a received request with every `credentials` value replaced by "[redacted]"."""
    if isinstance(value, dict):
        return {k: "[redacted]" if k == "credentials" else _without_credentials(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_credentials(v) for v in value]
    return value


def control_router(agent: SimAgent) -> Router:
    async def buys(request: Request) -> JSONResponse:
        now = time.time()
        return JSONResponse({"agent_id": agent.settings.id,
                             "media_buys": [b.control_view(now) for b in agent.store.buys.values()]})

    async def buy(request: Request) -> JSONResponse:
        found = agent.store.get(request.path_params["media_buy_id"])
        if found is None:
            return _error(404, "no such media buy")
        return JSONResponse(found.control_view(time.time()))

    async def set_status(request: Request) -> JSONResponse:
        found = agent.store.get(request.path_params["media_buy_id"])
        if found is None:
            return _error(404, "no such media buy")
        try:
            body = await _json_body(request)
        except ConfigError as exc:
            return _error(400, str(exc))
        status = body.get("status")
        if status not in SETTABLE_STATUSES:
            return _error(400, f"status must be one of {', '.join(SETTABLE_STATUSES)}")
        await agent.lifecycle.set_status_silently(found, status, time.time(), body.get("reason"))
        return JSONResponse(found.control_view(time.time()))

    async def stats(request: Request) -> JSONResponse:
        counters = dict(agent.stats)
        return JSONResponse({"agent_id": agent.settings.id, "buys": len(agent.store.buys),
                             "held_webhooks": agent.emitter.held, **counters})

    async def knobs(request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                return JSONResponse(agent.set_knobs(await _json_body(request)))
            except ConfigError as exc:
                return _error(400, str(exc))
        return JSONResponse(agent.knobs())

    async def webhooks(request: Request) -> JSONResponse:
        entries = list(agent.emitter.log)
        wanted = request.query_params.get("media_buy_id")
        if wanted:
            entries = [e for e in entries if e.get("media_buy_id") == wanted]
        return JSONResponse({"webhooks": entries})

    async def updates(request: Request) -> JSONResponse:
        # the request as received, but a push config's credentials: they are the buyer's webhook secret
        entries = [{**e, "request": _without_credentials(e["request"])} for e in agent.store.updates.values()]
        wanted = request.query_params.get("media_buy_id")
        if wanted:
            entries = [e for e in entries if e["media_buy_id"] == wanted]
        return JSONResponse({"updates": entries})

    async def accounts(request: Request) -> JSONResponse:
        faults = agent.faults
        return JSONResponse({
            "agent_id": agent.settings.id, "seller_accounts": faults.seller_accounts,
            "accounts": agent.platform.accounts.public(),
            "auth": {"required": faults.auth_required, "header": faults.auth_header, "bearer": faults.auth_bearer,
                     "tokens": len(agent.settings.auth_tokens)},  # how many, never the tokens
            "push_configs": {account: len(held) for account, held in agent.push_configs.items()},
        })

    async def products(request: Request) -> JSONResponse:
        listed = catalog.products(catalog.publisher_domain(agent.settings.id)) if agent.faults.catalog_required else []
        return JSONResponse({"agent_id": agent.settings.id, "catalog_required": agent.faults.catalog_required,
                             "products": listed})

    async def flush(request: Request) -> JSONResponse:
        return JSONResponse({"flushed": agent.emitter.flush_held()})

    async def index(request: Request) -> JSONResponse:
        base = agent.base_url
        return JSONResponse({
            "agent_id": agent.settings.id, "mcp": f"{base}/mcp", "jwks": f"{base}{JWKS_PATH}",
            "profile": agent.settings.profile,
            "control": [f"{base}/_sim/{p}" for p in ("buys", "stats", "knobs", "webhooks", "updates", "accounts",
                                                     "products")],
        })

    return Router(routes=[
        Route("/_sim", index),
        Route("/_sim/", index),
        Route("/_sim/buys", buys),
        Route("/_sim/buys/{media_buy_id}", buy),
        Route("/_sim/buys/{media_buy_id}/status", set_status, methods=["POST"]),
        Route("/_sim/stats", stats),
        Route("/_sim/knobs", knobs, methods=["GET", "POST"]),
        Route("/_sim/webhooks", webhooks),
        Route("/_sim/webhooks/flush", flush, methods=["POST"]),
        Route("/_sim/updates", updates),
        Route("/_sim/accounts", accounts),
        Route("/_sim/products", products),
    ])


class SimRoutes:
    """Outermost ASGI layer of an agent: our routes first, then the SDK's MCP app."""

    def __init__(self, app, agent: SimAgent):
        self.app = app
        self.agent = agent
        self.control = control_router(agent)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == JWKS_PATH:
            await JSONResponse(self.agent.jwks, headers={"Cache-Control": "max-age=60"})(scope, receive, send)
        elif path == "/_sim" or path.startswith("/_sim/"):
            await self.control(scope, receive, send)
        elif path.rstrip("/") == "/mcp" and (message := self._auth_refusal(scope)) is not None:
            self.agent.stats["auth_refused"] += 1
            await JSONResponse({"error": {"code": "AUTH_REQUIRED", "message": f"AUTH_REQUIRED: {message}"}},
                               status_code=401)(scope, receive, send)
        elif scope.get("method") == "POST" and path.rstrip("/") == "/mcp":
            await self._mcp_with_poll_faults(scope, receive, send)
        elif scope.get("method") == "GET" and path.rstrip("/") == "/mcp":
            await self._stream_until_closing(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _auth_refusal(self, scope) -> str | None:
        faults = self.agent.faults
        if not faults.auth_required:
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        return refusal(headers, header=faults.auth_header, bearer=faults.auth_bearer,
                       tokens=self.agent.settings.auth_tokens)

    async def _stream_until_closing(self, scope, receive, send) -> None:
        """A buyer's MCP notification stream (GET /mcp) never ends by itself. On shutdown, tell it the
        client left and finish the response ourselves, instead of uvicorn cancelling it after its
        grace period."""
        closing = self.agent.closing
        state = {"started": False, "finished": False}

        async def until_closing():
            received = asyncio.ensure_future(receive())
            stopped = asyncio.ensure_future(closing.wait())
            done, _ = await asyncio.wait({received, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if received in done:
                stopped.cancel()
                return received.result()
            received.cancel()
            return {"type": "http.disconnect"}

        async def tracking(message):
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["finished"] = True
            await send(message)

        await self.app(scope, until_closing, tracking)
        if closing.is_set() and state["started"] and not state["finished"]:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _mcp_with_poll_faults(self, scope, receive, send) -> None:
        """Answer a share of polls with HTTP 503 before MCP sees them, as a failing gateway would."""
        if not self.agent.faults.poll_http_error_share:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            rpc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            rpc = None
        tool = rpc.get("params", {}).get("name") if isinstance(rpc, dict) and rpc.get("method") == "tools/call" else None
        if tool in POLL_TASKS and self.agent.rng_polls.random() < self.agent.faults.poll_http_error_share:
            self.agent.stats["polls_received"] += 1
            self.agent.stats["polls_failed_http"] += 1
            response = JSONResponse({"error": {"message": "simulated upstream outage"}}, status_code=503,
                                    headers={"Retry-After": "1"})
            await response(scope, receive, send)
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
