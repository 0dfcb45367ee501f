"""The simulator's strict-seller profile (../shared/SELLERS.md), driven over MCP the way a buyer drives a
real seller: our ADCP client (mediabuy_sync.adcp.client) and the SDK's adapter for the tasks our client
does not wrap (list_accounts, sync_accounts, get_products), a local receiver for webhooks, raw HTTP where
the point is the HTTP answer. Needs no PostgreSQL, Redis or our own processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from mediabuy_sync.sim.config import PROFILES, ConfigError, build_settings
from support.sim import run_simulator
from support.stack import Process, free_ports, wait_until

BIN = Path(sys.executable).parent
TOKEN = "tok_strict_buyer_0123456789"
SECRET = "h" * 40
ACCOUNT = "acc_acme_strict"
FAST = {"timings": {"approval_delay_seconds": 0.3, "activation_delay_seconds": 0.2, "input_required_share": 0.0,
                    "reject_share": 0.0, "delivery_interval_seconds": 0, "tick_seconds": 0.05},
        "faults": {"webhook_retry_base_seconds": 0.1, "webhook_timeout_seconds": 2.0}}


# -- config (no simulator needed) -----------------------------------------------------------------


def test_the_profile_expands_into_knobs_that_an_agent_can_override(tmp_path):
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"agents": [
        {"id": "polite"},
        {"id": "strict", "profile": "strict-seller", "faults": {"update_noop_share": 0, "auth_header": "x-api-key"},
         "auth_tokens": ["t1"], "accounts": [{"account_id": "acc_1", "brand": {"domain": "Acme.example"}}]},
    ]}))
    polite, strict = build_settings(config_path=path).agents
    assert polite.profile == "polite" and not polite.faults.auth_required and polite.faults.webhook_operation_id
    assert strict.profile == "strict-seller"
    for name, value in PROFILES["strict-seller"]["faults"].items():
        if name not in ("update_noop_share", "auth_header"):
            assert getattr(strict.faults, name) == value, name
    assert (strict.faults.update_noop_share, strict.faults.auth_header) == (0.0, "x-api-key")
    assert strict.accounts == [{"account_id": "acc_1", "brand": {"domain": "acme.example"}, "operator": "acme.example",
                                "name": "acc_1"}]
    # --profile is every agent's, unless the file names one
    assert [a.profile for a in build_settings(config_path=path, profile="strict-seller").agents] == \
        ["strict-seller", "strict-seller"]
    assert build_settings(agents=2, profile="strict-seller").agents[1].faults.sync_create


@pytest.mark.parametrize("agent, message", [
    ({"id": "a", "profile": "rude"}, "agents[0].profile"),
    ({"id": "a", "faults": {"approval_status_word": "done"}}, "approval_status_word"),
    ({"id": "a", "faults": {"auth_header": "x adcp"}}, "auth_header"),
    ({"id": "a", "auth_tokens": [""]}, "auth_tokens"),
    ({"id": "a", "accounts": [{"account_id": "acc"}]}, "accounts[0].brand"),
])
def test_bad_strict_settings_are_refused_with_the_key_named(tmp_path, agent, message):
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"agents": [agent]}))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_settings(config_path=path)


# -- the running simulator ------------------------------------------------------------------------


class Receiver:
    """The buyer's webhook endpoint: records every POST; answers `status_for[path]` (200 by default)."""

    def __init__(self):
        self.records: list[SimpleNamespace] = []
        self.status_for: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.status_for.get(self.path, 200)
                with receiver._lock:
                    receiver.records.append(SimpleNamespace(path=self.path, headers=self.headers, body=body,
                                                            json=json.loads(body), status=status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"{self.base}/hooks/{name}"

    def at(self, name: str) -> list[SimpleNamespace]:
        with self._lock:
            return [r for r in self.records if r.path == f"/hooks/{name}"]


def start(tmp_dir: Path, port: int, name: str) -> Process:
    config = {"seed": 5, "defaults": FAST, "agents": [{
        "id": "sim_strict", "port": port, "profile": "strict-seller", "auth_tokens": [TOKEN],
        "accounts": [{"account_id": ACCOUNT, "brand": {"domain": "acme.example"}}]}]}
    return run_simulator(tmp_dir, config, name)


@pytest.fixture(scope="module")
def seller(tmp_path_factory):
    (port,) = free_ports(1)
    tmp = tmp_path_factory.mktemp("strict")
    proc = start(tmp, port, "sim-strict")
    from mediabuy_sync.adcp import client  # the worker's client: its MCP session skips the output-schema pass

    deviations: list[tuple] = []
    client.deviation_hook = lambda *d: deviations.append(d)
    base = f"http://127.0.0.1:{port}"
    agent = client.Agent("sim_strict", f"{base}/mcp", auth_token=TOKEN)
    yield SimpleNamespace(proc=proc, base=base, port=port, tmp=tmp, client=client, agent=agent,
                          deviations=deviations, receiver=Receiver())
    client.deviation_hook = None
    proc.stop()


@pytest.fixture
def knobs(seller):
    def set_knobs(**values):
        response = requests.post(f"{seller.base}/_sim/knobs", json=values, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    before = requests.get(f"{seller.base}/_sim/knobs", timeout=5).json()
    yield set_knobs
    requests.post(f"{seller.base}/_sim/knobs", json=before, timeout=5).raise_for_status()


def raw(seller, task: str, params: dict):
    """A task through the SDK's adapter (our client's session): the raw TaskResult."""
    client = seller.client
    return client.run(client._call(seller.agent, 15, task, lambda c: getattr(c.adapter, task)(params)))


def create_request(hook: str | None, *, account: str = ACCOUNT, operation_id: str | None = "op_strict",
                   auth: dict | None = None, **package) -> dict:
    end = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    request = {"idempotency_key": str(uuid.uuid4()), "account": {"account_id": account},
               "brand": {"domain": "acme.example"}, "start_time": "asap", "end_time": end,
               "packages": [{"product_id": "display_ros", "pricing_option_id": "cpm_usd_fixed", "budget": 5000,
                             **package}]}
    if hook:
        request["push_notification_config"] = {"url": hook, **({"operation_id": operation_id} if operation_id else {}),
                                               **({"authentication": auth} if auth else {})}
    return request


def create(seller, request: dict) -> dict:
    client = seller.client
    return client.run(client.create_media_buy(seller.agent, request, 15))


def refused(seller, call) -> str:
    client = seller.client
    with pytest.raises(client.AgentCallError) as caught:
        client.run(call)
    return caught.value.message


def test_every_call_needs_the_token_raw_in_x_adcp_auth_or_as_a_bearer(seller):
    client = seller.client
    mcp = f"{seller.base}/mcp"
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for extra in ({}, {"x-adcp-auth": f"Bearer {TOKEN}"}, {"x-adcp-auth": "not-the-token"}):
        answer = requests.post(mcp, json=hello, headers={**headers, **extra}, timeout=5)
        assert answer.status_code == 401, (extra, answer.text)
        assert answer.json()["error"]["code"] == "AUTH_REQUIRED"
    assert "Provide a valid x-adcp-auth token" in requests.post(mcp, json=hello, headers=headers, timeout=5).text
    for extra in ({"x-adcp-auth": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}):
        assert requests.post(mcp, json=hello, headers={**headers, **extra}, timeout=5).status_code == 200

    anonymous = client.Agent("sim_strict_anon", mcp)
    message = refused(seller, client.get_media_buys(anonymous, ["mb_x"], 10))
    assert "401" in message
    assert client.run(client.get_media_buys(seller.agent, ["mb_unknown"], 10)) == []
    as_bearer = client.Agent("sim_strict_bearer", mcp, auth_token=TOKEN, auth_header="authorization")
    assert client.run(client.get_media_buys(as_bearer, ["mb_unknown"], 10)) == []
    assert requests.get(f"{seller.base}/_sim/stats", timeout=5).json()["auth_refused"] >= 4


def test_accounts_are_the_sellers_own(seller):
    listed = raw(seller, "list_accounts", {})
    assert ACCOUNT in [a["account_id"] for a in listed.data["accounts"]]
    synced = raw(seller, "sync_accounts", {"idempotency_key": str(uuid.uuid4()), "accounts": [
        {"brand": {"domain": "shoes.example"}, "operator": "buyer.example", "billing": "operator"}]})
    [row] = synced.data["accounts"]
    assert (row["action"], row["status"], row["brand"]) == ("created", "active", {"domain": "shoes.example"})
    assigned = row["account_id"]
    assert assigned.startswith("acc_sim_strict_")
    again = raw(seller, "sync_accounts", {"idempotency_key": str(uuid.uuid4()), "accounts": [
        {"brand": {"domain": "shoes.example"}, "operator": "buyer.example", "billing": "operator"}]})
    assert (again.data["accounts"][0]["action"], again.data["accounts"][0]["account_id"]) == ("unchanged", assigned)

    message = refused(seller, seller.client.create_media_buy(seller.agent, create_request(None, account="adv_ours"), 10))
    assert "ACCOUNT_NOT_FOUND" in message or "not found" in message
    assert create(seller, create_request(None, account=assigned))["data"]["media_buy_id"]
    shown = requests.get(f"{seller.base}/_sim/accounts", timeout=5).json()
    assert {ACCOUNT, assigned} <= {a["account_id"] for a in shown["accounts"]}
    assert shown["auth"] == {"required": True, "header": "x-adcp-auth", "bearer": True, "tokens": 1}


def test_products_carry_pricing_options_and_creates_are_held_to_them(seller):
    products = raw(seller, "get_products", {"brief": "display", "buying_mode": "brief"}).data["products"]
    by_id = {p["product_id"]: p for p in products}
    options = {o["pricing_option_id"]: o for o in by_id["display_ros"]["pricing_options"]}
    assert options["cpm_usd_fixed"]["fixed_price"] > 0 and options["cpm_usd_auction"]["floor_price"] > 0
    assert by_id["display_ros"]["format_options"]
    assert requests.get(f"{seller.base}/_sim/products", timeout=5).json()["products"] == products

    client = seller.client
    for package, words in (({"pricing_option_id": "default"}, "'default' is not offered"),
                           ({"product_id": "made_up"}, "'made_up' not found"),
                           ({"pricing_option_id": "cpm_usd_auction"}, "bid_price is required"),
                           ({"pricing_option_id": "cpm_usd_auction", "bid_price": 0.5}, "under the floor")):
        message = refused(seller, client.create_media_buy(seller.agent, create_request(None, **package), 10))
        assert words in message, message
    assert create(seller, create_request(None, pricing_option_id="cpm_usd_auction", bid_price=3.5))["status"] == "completed"


def test_a_synchronous_create_and_the_webhooks_that_say_little(seller):
    receiver = seller.receiver
    hook = receiver.url("sync")
    answer = create(seller, create_request(hook, operation_id="op_first"))
    data = answer["data"]
    assert answer["data"]["status"] == "completed" and answer["task_id"] is None
    assert data["media_buy_status"] == "active" and data["revision"] >= 1
    assert data["packages"][0]["package_id"] == f"{data['media_buy_id']}_pkg1"
    [first] = wait_until(lambda: receiver.at("sync") or None, 10, what="the create webhook")
    assert "operation_id" not in first.json and first.json["result"] == {}
    assert first.json["task_type"] == "create_media_buy" and first.json["status"] == "completed"
    assert first.json["task_id"].startswith("task_sync_")  # a task the buyer was never given

    # A second buy with another push config: its webhook goes to both configs, a new key each.
    create(seller, create_request(hook, operation_id="op_second"))
    records = wait_until(lambda: (lambda rs: rs if len(rs) >= 3 else None)(receiver.at("sync")), 10,
                         what="fanned-out webhooks")
    assert len(records) == 3
    assert len({r.json["idempotency_key"] for r in records}) == 3
    assert records[1].json["task_id"] == records[2].json["task_id"]


def test_reads_omit_what_the_sdk_requires_and_are_read_leniently(seller):
    mb = create(seller, create_request(None))["data"]["media_buy_id"]
    client = seller.client
    entry = raw(seller, "get_media_buys", {"media_buy_ids": [mb]}).data["media_buys"][0]
    for field in ("revision", "confirmed_at", "status_as_of", "adcp_version"):
        assert field not in entry
    seller.deviations.clear()
    [polled] = client.run(client.get_media_buys(seller.agent, [mb], 10))
    assert (polled.adcp_media_buy_id, polled.status, polled.confirmed) == (mb, "active", True)
    assert polled.packages[0]["package_id"] == f"{mb}_pkg1"
    assert {("sim_strict", "get_media_buys", f) for f in ("revision", "confirmed_at", "status_as_of")} \
        <= set(seller.deviations)


def test_unknown_fields_are_refused_and_updates_may_do_nothing(seller, knobs):
    client = seller.client
    message = refused(seller, client.create_media_buy(
        seller.agent, {**create_request(None), "total_budget": {"amount": 5000, "currency": "USD"}}, 10))
    assert "Unexpected keyword argument 'total_budget'" in message
    mb = create(seller, create_request(None))["data"]["media_buy_id"]
    update = {"idempotency_key": str(uuid.uuid4()), "media_buy_id": mb, "paused": True}
    message = refused(seller, client.update_media_buy(seller.agent, {**update, "account": {"account_id": ACCOUNT}}, 10))
    assert "Unexpected keyword argument 'account'" in message

    knobs(update_noop_share=1.0)
    seller.deviations.clear()
    answer = raw(seller, "update_media_buy", update)
    assert answer.data["affected_packages"] == [] and answer.data["media_buy_status"] == "active"
    assert client.run(client.get_media_buys(seller.agent, [mb], 10))[0].status == "active"  # not paused
    knobs(update_noop_share=0.0)
    done = raw(seller, "update_media_buy", {**update, "idempotency_key": str(uuid.uuid4())})
    assert done.data["media_buy_status"] == "paused"
    assert requests.get(f"{seller.base}/_sim/stats", timeout=5).json()["updates_ignored"] >= 1


def test_the_approval_webhook_says_completed_for_a_buy_gone_active(seller, knobs):
    knobs(sync_create=False)
    hook = seller.receiver.url("approval")
    answer = create(seller, create_request(hook))
    assert answer["data"]["status"] == "submitted"
    [record] = wait_until(lambda: seller.receiver.at("approval") or None, 10, what="the approval webhook")
    assert record.json["result"]["media_buy_status"] == "completed"
    mb = record.json["result"]["media_buy_id"]
    assert seller.client.run(seller.client.get_media_buys(seller.agent, [mb], 10))[0].status == "active"


def test_hmac_is_over_compact_json_but_the_body_has_spaces(seller):
    hook = seller.receiver.url("hmac")
    create(seller, create_request(hook, auth={"schemes": ["HMAC-SHA256"], "credentials": SECRET}))
    [record] = wait_until(lambda: seller.receiver.at("hmac") or None, 10, what="the webhook")
    stamp, signature = record.headers["X-AdCP-Timestamp"], record.headers["X-AdCP-Signature"]

    def sign(body: bytes) -> str:
        return "sha256=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()

    assert b'", "' in record.body  # posted with default separators
    assert signature != sign(record.body)
    assert signature == sign(json.dumps(json.loads(record.body), separators=(",", ":")).encode())


def test_a_4xx_stops_the_retries(seller):
    seller.receiver.status_for["/hooks/429"] = 429
    hook = seller.receiver.url("429")
    create(seller, create_request(hook))
    entry = wait_until(lambda: next((w for w in requests.get(f"{seller.base}/_sim/webhooks", timeout=5).json()[
        "webhooks"] if w["url"] == hook and w["outcome"] == "failed"), None), 10, what="the failed delivery")
    assert (entry["attempts"], entry["http_status"]) == (1, 429)
    time.sleep(0.5)
    assert len(seller.receiver.at("429")) == 1


def test_a_restarted_seller_answers_404_session_not_found_on_the_old_session(tmp_path):
    (port,) = free_ports(1)
    mcp = f"http://127.0.0.1:{port}/mcp"
    headers = {"Accept": "application/json, text/event-stream", "x-adcp-auth": TOKEN}
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    first = start(tmp_path, port, "sim-strict-restart")
    try:
        opened = requests.post(mcp, json=hello, headers=headers, timeout=5)
        session = opened.headers["mcp-session-id"]
        assert requests.post(mcp, json=ping, headers={**headers, "mcp-session-id": session}, timeout=5).status_code == 200
    finally:
        first.stop()
    second = start(tmp_path, port, "sim-strict-restart-2")
    try:
        # the SDK's server (mcp's StreamableHTTPSessionManager) already answers so: nothing of ours
        lost = requests.post(mcp, json=ping, headers={**headers, "mcp-session-id": session}, timeout=5)
        assert lost.status_code == 404 and "Session not found" in lost.text
    finally:
        second.stop()
