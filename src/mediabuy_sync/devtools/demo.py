"""devtools: `mediabuy-sync demo` — a campaign over the simulated agents, executed, watched live, paused, reactivated.

It drives the service the way a buyer platform does — over HTTP, with an API key — and prints each
media buy's status, the campaign's surfaced status and its blockers as webhooks and polls arrive.
Standard library only (urllib): it runs beside the web, never inside it.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from ..sim.config import DEMO_BRAND, DEMO_STRICT, DEMO_STRICT_ACCOUNT, DEMO_STRICT_TOKEN

# The agents `simulate-agent --demo` starts: three polite ones, each registered with another webhook
# scheme, and a strict seller (sim/config.py DEMO_STRICT) registered as a real seller is: our token at it,
# its own account id for our advertiser, a product and pricing option from its catalogue.
DEMO_AGENTS = (
    ("sim_agent_1", 9101, "hmac-sha256", ["display_300x250", "video_15s"]),
    ("sim_agent_2", 9102, "bearer", ["video_15s", "video_30s"]),
    ("sim_agent_3", 9103, "rfc9421", ["display_300x250", "audio_30s"]),
    (DEMO_STRICT["id"], 9104, "hmac-sha256", ["display_300x250"]),
)
STRICT_PRODUCT = ("display_ros", "cpm_usd_fixed")  # in the strict seller's catalogue (sim/catalog.py)
ADVERTISER = "adv_demo"


def _request(method: str, url: str, body: dict | None = None, key: str | None = None, timeout: float = 30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _wait_for(url: str, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: {what} did not answer at {url} within {timeout:.0f} s")
            time.sleep(0.5)


def register_agents(host: str) -> None:
    """The simulated agents in our registry (once), each with its own webhook signature scheme."""
    import secrets

    from ..adcp.jwks import fetch_jwks
    from ..store import agents, campaigns
    from ..store.db import transaction

    with transaction() as conn:
        known = {row["id"] for row in agents.list_agents(conn)}
    for agent_id, port, scheme, _ in DEMO_AGENTS:
        if agent_id in known or (agent_id == DEMO_STRICT["id"] and not _loopback(host)):
            continue
        base = f"http://{host}:{port}"
        with transaction() as conn:
            if scheme == "rfc9421":
                agents.add_agent(conn, agent_id, agent_id, f"{base}/mcp", scheme, jwks_uri=f"{base}/.well-known/jwks.json")
                agents.store_jwks(conn, agent_id, fetch_jwks(f"{base}/.well-known/jwks.json", 5, allow_http=True))
            elif agent_id == DEMO_STRICT["id"]:  # as an operator registers a real seller (docs/sellers.md)
                agents.add_agent(conn, agent_id, agent_id, f"{base}/mcp", scheme, auth_token=DEMO_STRICT_TOKEN,
                                 account_mode="seller")
                agents.add_secret(conn, agent_id, scheme, secrets.token_urlsafe(32))
                agents.set_account(conn, agent_id, ADVERTISER, DEMO_STRICT_ACCOUNT)
                campaigns.set_advertiser_brand(conn, ADVERTISER, DEMO_BRAND)
            else:
                agents.add_agent(conn, agent_id, agent_id, f"{base}/mcp", scheme)
                agents.add_secret(conn, agent_id, scheme, secrets.token_urlsafe(32))
        print(f"demo: registered {agent_id} ({scheme}) at {base}/mcp", flush=True)


def _loopback(host: str) -> bool:
    """Our token goes to a seller over https, or plain http on this machine only (the SDK's rule): the
    strict seller takes part where the agents run on loopback (./dev up), not across compose's network."""
    return host in ("127.0.0.1", "localhost", "::1")


def campaign_request(now: datetime, with_strict: bool = True) -> dict:
    products = [
        {"salesAgentId": agent_id, "productId": f"{agent_id}_{formats[0]}", "budget": 7500,
         "pacing": "even", "pricingOptionId": "cpm_fixed", "formats": formats}
        for agent_id, _, _, formats in DEMO_AGENTS if agent_id != DEMO_STRICT["id"]
    ]
    if with_strict:
        product_id, option = STRICT_PRODUCT  # the strict seller sells only what its catalogue lists
        products.append({"salesAgentId": DEMO_STRICT["id"], "productId": product_id, "budget": 7500,
                         "pacing": "even", "pricingOptionId": option, "formats": ["display_300x250"]})
    return {
        "advertiserId": ADVERTISER,
        "name": f"Demo campaign {now:%H:%M:%S}",
        "flightDates": {"startDate": now.isoformat(), "endDate": (now + timedelta(days=14)).isoformat()},
        "budget": {"total": 30000, "currency": "USD", "pacing": "EVEN"},
        "products": products,
        "creatives": [{"creativeId": "cr_video_15s", "format": "video_15s"},
                      {"creativeId": "cr_banner", "format": "display_300x250"}],
    }


def render(campaign: dict) -> str:
    status = campaign["mediaBuyStatus"]
    lines = [f"campaign {campaign['campaignId']}  {campaign['lifecycleStatus']:<8} surfaced {status['surfacedStatus'] or '-':<17}"
             f" blockers {', '.join(status['blockers']) or '-'}"]
    for buy in campaign["mediaBuys"]:
        delivery = buy.get("delivery") or {}
        lines.append(f"  {buy['mediaBuyId']}  {buy['salesAgentId']:<12} {buy['status']:<17} adcp {buy['adcpStatus'] or '-':<18}"
                     f" impressions {delivery.get('impressions', 0):>8}")
    return "\n".join(lines)


# Under ./dev up the demo's lines share the terminal with every process's log lines: each view of the
# campaign opens with a rule, and each step with a heading, so they stand out.
RULE_WIDTH = 100


def banner(text: str) -> str:
    """`== text ======…`: a step of the demo."""
    return f"== {text} ".ljust(RULE_WIDTH, "=")


def answer_summary(code: int, answer) -> str:
    """An action's answer in a line: the status change, the buys done / failed / pending, the cascade."""
    data = (answer or {}).get("data") if isinstance(answer, dict) else None
    if code >= 300 or not isinstance(data, dict):
        return f"{code} {json.dumps(answer)}"
    parts = [f"{code}: campaign {data.get('previousStatus', '?')} → {data.get('newStatus', '?')}"]
    if "totalMediaBuys" in data:
        parts.append(f"{data.get('successCount', 0)} of {data['totalMediaBuys']} buys done, "
                     f"{data.get('failureCount', 0)} failed, {data.get('pendingCount', 0)} pending")
    cascade = data.get("cascade")
    if cascade:
        parts.append(f"cascade {cascade.get('cascadeId')} ({cascade.get('kind')}) {cascade.get('state')}: "
                     f"{cascade.get('succeeded', 0)} of {cascade.get('total', 0)} calls succeeded")
    for error in data.get("errors") or ():
        parts.append(f"error on {error.get('mediaBuyId')} ({error.get('salesAgentId')}): {error.get('message')}")
    return "; ".join(parts)


def watch(base: str, key: str, campaign_id: str, seconds: float, until=None) -> dict:
    """Print the campaign whenever it changes, for `seconds` or until `until(campaign)` holds."""
    shown, deadline = None, time.monotonic() + seconds
    while True:
        _, answer = _request("GET", f"{base}/api/v2/buyer/campaigns/{campaign_id}", key=key)
        campaign = answer["data"]
        view = render(campaign)
        if view != shown:
            print(f"-- {datetime.now():%H:%M:%S} campaign view ".ljust(RULE_WIDTH, "-") + f"\n{view}", flush=True)
            shown = view
        if (until and until(campaign)) or time.monotonic() > deadline:
            return campaign
        time.sleep(1)


def run(args) -> int:
    if args.stay:
        exit_on_stop()
    try:
        code = _run(args)
    except Exception as exc:  # noqa: BLE001 - a failed demo says why; it must not stop the stack
        print(f"demo: failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    if args.stay:  # under honcho, a process that exits stops them all: the demo keeps its place
        import signal

        print(banner("demo: done; the service keeps running (Ctrl-C stops it)"), flush=True)
        while True:
            signal.pause()
    return code


def exit_on_stop() -> None:
    """SIGTERM or SIGINT ends the demo at once with exit 0, whatever step it is in: a stop is the end a demo that
    stays waits for, not a failure. (Without this it ignored SIGTERM where it was PID 1, so `docker compose stop`
    waited its whole grace period and then killed it.)"""
    import signal

    def stop(*_):
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


def _run(args) -> int:
    from ..store import api_keys
    from ..store.db import transaction

    base = args.base_url.rstrip("/")
    _wait_for(f"{base}/readyz", "the web")
    for _, port, _, _ in DEMO_AGENTS:
        _wait_for(f"http://{args.agents_host}:{port}/_sim/stats", "a simulated agent")
    register_agents(args.agents_host)
    with transaction() as conn:
        key = api_keys.create_key(conn, ADVERTISER, "demo")[1]

    code, created = _request("POST", f"{base}/api/v2/buyer/campaigns",
                             campaign_request(datetime.now(timezone.utc), with_strict=_loopback(args.agents_host)), key)
    if code != 201:
        print(f"demo: creating the campaign failed: {code} {created}", file=sys.stderr)
        return 1
    campaign_id = created["data"]["campaignId"]
    print(banner(f"demo: created {campaign_id} (DRAFT); executing it over {len(DEMO_AGENTS)} agents"), flush=True)
    code, executed = _request("POST", f"{base}/api/v2/buyer/campaigns/{campaign_id}/execute", {"debug": False}, key)
    print(f"demo: execute → {answer_summary(code, executed)}", flush=True)

    def settled(c):
        return all(b["status"] not in ("DRAFT", "PENDING_APPROVAL") for b in c["mediaBuys"])

    watch(base, key, campaign_id, args.settle_seconds, settled)
    print(banner("demo: pausing the campaign"), flush=True)
    code, paused = _request("POST", f"{base}/api/v2/buyer/campaigns/{campaign_id}/pause", {}, key)
    print(f"demo: pause → {answer_summary(code, paused)}", flush=True)
    watch(base, key, campaign_id, 15, lambda c: all(b["status"] != "ACTIVE" for b in c["mediaBuys"]))
    print(banner("demo: reactivating the campaign"), flush=True)
    code, reactivated = _request("POST", f"{base}/api/v2/buyer/campaigns/{campaign_id}/reactivate", {}, key)
    print(f"demo: reactivate → {answer_summary(code, reactivated)}", flush=True)
    print(banner(f"demo: watching the campaign for {args.watch_seconds:.0f} s (delivery reports, polls)"), flush=True)
    watch(base, key, campaign_id, args.watch_seconds)
    return 0


def add_parser(sub) -> None:
    parser = sub.add_parser("demo", help="a campaign over the simulated agents: execute, watch live, pause, reactivate")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--agents-host", default="127.0.0.1")
    parser.add_argument("--settle-seconds", type=float, default=60, help="watch after execute until no buy is pending")
    parser.add_argument("--watch-seconds", type=float, default=600, help="watch after reactivating")
    parser.add_argument("--stay", action="store_true", help="keep running when done (for ./dev up's process manager)")
    parser.set_defaults(func=run)
