"""python -m bench.fake_agents --port P [--delay 0.05]: many light ADCP sales agents in one process.

One ASGI app built with the SDK's own seller framework (the same MCP server and tool schemas the
simulated agents use, so our client takes its real path), reached at /agents/<agent id>/mcp for any
agent id: every agent is the same seller, which says each buy it is asked about is active, after
`--delay` seconds. GET /_stats: {"calls": get_media_buys calls, "buys": buy ids answered,
"first": t, "last": t} (time.time() of the first and last answers)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import warnings

STATS = {"calls": 0, "buys": 0, "first": None, "last": None, "agents": set()}
AGENT_PATH = re.compile(r"^/agents/([^/]+)(/mcp.*)$")


def build(delay: float):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from adcp.decisioning import DecisioningCapabilities, DecisioningPlatform, SingletonAccounts
        from adcp.decisioning.task_registry import InMemoryTaskRegistry
        from adcp.decisioning.types import AdcpError
        from adcp.testing import build_asgi_app
        from adcp.validation.client_hooks import ValidationHookConfig

    class LightSeller(DecisioningPlatform):
        def __init__(self):
            self.accounts = SingletonAccounts(account_id="fake", name="fake")
            self.capabilities = DecisioningCapabilities(specialisms=["sales-non-guaranteed"],
                                                        supported_protocols=["media_buy"])

        # The specialism's other tools: never called by the sweep, answered as unsupported.
        async def _unsupported(self, req, ctx):
            raise AdcpError("UNSUPPORTED_FEATURE", message="a polling-benchmark fake")

        create_media_buy = update_media_buy = get_products = get_media_buy_delivery = sync_creatives = _unsupported

        async def get_media_buys(self, req, ctx):
            await asyncio.sleep(delay)
            ids = req.model_dump(mode="json", exclude_none=True).get("media_buy_ids") or []
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            STATS["calls"] += 1
            STATS["buys"] += len(ids)
            STATS["first"] = STATS["first"] or time.time()
            STATS["last"] = time.time()
            return {"media_buys": [
                {"media_buy_id": i, "status": "active", "status_as_of": "2026-01-01T00:00:00Z", "currency": "USD",
                 "total_budget": 1000, "confirmed_at": "2026-01-01T00:00:00Z", "revision": 1,
                 "start_time": "2026-01-01T00:00:00Z", "end_time": "2027-01-01T00:00:00Z",
                 "created_at": "2026-01-01T00:00:00Z", "updated_at": now, "packages": []} for i in ids]}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = build_asgi_app(LightSeller(), name="fake", registry=InMemoryTaskRegistry(), auto_emit_task_webhooks=False,
                             validate_at_init=False,
                             # light: the seller's own schema passes over each request and answer
                             # (~20 of its ~26 ms of CPU per page) are off; what goes over the wire is the same
                             validation=ValidationHookConfig(requests="off", responses="off"))

    async def routed(scope, receive, send):
        if scope["type"] == "http":
            if scope["path"] == "/_stats":
                body = json.dumps({**STATS, "agents": len(STATS["agents"])}).encode()
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": body})
                return
            match = AGENT_PATH.match(scope["path"])
            if match:  # every agent is the one seller, at its own URL
                STATS["agents"].add(match.group(1))
                scope = {**scope, "path": match.group(2), "raw_path": match.group(2).encode()}
        await app(scope, receive, send)

    return routed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    import uvicorn

    app = build(args.delay)
    print(f"fake agents listening on 127.0.0.1:{args.port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="on", timeout_keep_alive=60)


if __name__ == "__main__":
    main()
