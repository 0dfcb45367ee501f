"""The simulated sales agents (`mediabuy-sync simulate-agent`), driven the way a buyer drives a seller:
the ADCP SDK's MCP client for tasks, a local HTTP receiver for webhooks, the control API for faults.

One simulator process with two agents (an ed25519 and an ecdsa-p256 signing key) serves the module.
Tests change an agent's knobs at runtime through POST /_sim/knobs; the `knobs` fixture puts them back.
Needs no PostgreSQL, Redis or our own processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from mediabuy_sync.adcp.signatures import InboundAuth, verify_bearer, verify_hmac
from mediabuy_sync.sim.config import ConfigError, Faults, Timings, apply_knobs, build_settings
from support.stack import Process, free_ports, wait_until

BIN = Path(sys.executable).parent
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{16,255}$")
SECRET = "s" * 40
ACCOUNT = {"account_id": "acc_sim_tests"}

# Fast enough for tests, slow enough that every state is observable by a poll.
BASELINE = {
    "timings": {"approval_delay_seconds": 0.4, "activation_delay_seconds": 0.3, "input_required_share": 0.0,
                "reject_share": 0.0, "delivery_interval_seconds": 0.4, "impressions_per_report": 1000,
                "tick_seconds": 0.05},
    "faults": {"webhook_retry_base_seconds": 0.1, "webhook_timeout_seconds": 5.0},
}
FULL_BASELINE = {"timings": {**asdict(Timings()), **BASELINE["timings"]},
                 "faults": {**asdict(Faults()), **BASELINE["faults"]}}


# -- config (no simulator needed) -----------------------------------------------------------------


def test_settings_from_a_file_override_defaults_per_agent(tmp_path):
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({
        "seed": 5,
        "defaults": {"timings": {"approval_delay_seconds": 1}, "faults": {"webhook_drop_share": 0.2}},
        "agents": [{"id": "a"}, {"id": "b", "port": 9200, "key_algorithm": "ecdsa-p256",
                                 "faults": {"webhook_drop_share": 1}}],
    }))
    settings = build_settings(config_path=path, base_port=9300)
    assert settings.seed == 5 and settings.host == "127.0.0.1"
    a, b = settings.agents
    assert (a.id, a.port, a.key_algorithm) == ("a", 9300, "ed25519")
    assert (b.id, b.port, b.key_algorithm) == ("b", 9200, "ecdsa-p256")
    assert a.timings.approval_delay_seconds == b.timings.approval_delay_seconds == 1.0
    assert (a.faults.webhook_drop_share, b.faults.webhook_drop_share) == (0.2, 1.0)
    assert [x.port for x in build_settings(agents=3, base_port=9101).agents] == [9101, 9102, 9103]
    assert build_settings(config_path=path, seed=9).seed == 9


@pytest.mark.parametrize("document, message", [
    ({"agents": [{"id": "a", "faults": {"webhook_drop_share": 2}}]}, "at most 1"),
    ({"agents": [{"id": "a", "timings": {"nope": 1}}]}, "not a known setting"),
    ({"agents": [{"id": "a", "port": 1}, {"id": "b", "port": 1}]}, "share an port"),
    ({"agents": [{"id": "bad id"}]}, "agents[0].id"),
    ({"agents": [{"id": "a", "key_algorithm": "rsa"}]}, "key_algorithm"),
])
def test_bad_settings_are_refused_with_the_key_named(tmp_path, document, message):
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_settings(config_path=path)


def test_runtime_knobs_are_all_or_nothing():
    timings, faults = apply_knobs(Timings(), Faults(), {"faults": {"webhook_drop_share": 0.5}, "reject_share": 0.2})
    assert (faults.webhook_drop_share, timings.reject_share) == (0.5, 0.2)
    with pytest.raises(ConfigError):
        apply_knobs(timings, faults, {"webhook_drop_share": 1, "poll_slow_share": "often"})
    with pytest.raises(ConfigError, match="reject_share \\+ input_required_share"):
        apply_knobs(timings, faults, {"reject_share": 0.6, "input_required_share": 0.6})


# -- the running simulator ------------------------------------------------------------------------


class Receiver:
    """The buyer's webhook endpoint: records every POST by path; can answer 503 a few times first."""

    def __init__(self):
        self.records: list[SimpleNamespace] = []
        self.fail_first: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    failing = receiver.fail_first.get(self.path, 0)
                    if failing:
                        receiver.fail_first[self.path] = failing - 1
                    receiver.records.append(SimpleNamespace(
                        path=self.path, url=f"{receiver.base}{self.path}", headers=self.headers, body=body,
                        json=json.loads(body), status=503 if failing else 200, at=time.time()))
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"{self.base}/hooks/{name}"

    def at(self, name: str, accepted_only: bool = True) -> list[SimpleNamespace]:
        with self._lock:
            return [r for r in self.records
                    if r.path == f"/hooks/{name}" and (r.status == 200 or not accepted_only)]

    def wait(self, name: str, predicate, timeout: float = 10.0, what: str = "webhooks"):
        """Wait until predicate(records at this path) is truthy; return the records."""
        return wait_until(lambda: (lambda rs: rs if predicate(rs) else None)(self.at(name)), timeout, what=what)


def lifecycle(records, media_buy_id: str) -> list[tuple[str, str, str | None]]:
    """(task_type, status, media_buy_status) of the create/update webhooks for one buy, in arrival order."""
    return [(r.json["task_type"], r.json["status"], (r.json.get("result") or {}).get("media_buy_status"))
            for r in records if r.json["task_type"] != "media_buy_delivery"
            and (r.json.get("result") or {}).get("media_buy_id") == media_buy_id]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    ports = dict(zip(["sim_ed", "sim_ec"], free_ports(2)))
    config = {
        "seed": 11,
        "defaults": BASELINE,
        "agents": [{"id": "sim_ed", "port": ports["sim_ed"]},
                   {"id": "sim_ec", "port": ports["sim_ec"], "key_algorithm": "ecdsa-p256"}],
    }
    path = tmp_path_factory.mktemp("sim") / "sim.json"
    path.write_text(json.dumps(config))
    proc = Process("simulator", [str(BIN / "mediabuy-sync"), "simulate-agent", "--config", str(path)],
                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    yield SimpleNamespace(proc=proc,
                          base={a: f"http://127.0.0.1:{p}" for a, p in ports.items()})
    proc.stop()


@pytest.fixture(scope="module")
def sdk(simulator):
    """The buyer side: the SDK imported here (~15 s) while the simulator loads in parallel."""
    import adcp
    from adcp import types
    from adcp.signing import StaticJwksResolver
    from adcp.signing.webhook_verifier import WebhookVerifyOptions, verify_webhook_signature

    wait_until(lambda: "ready:" in simulator.proc.log() or simulator.proc.popen.poll() is not None, 90,
               what="the simulator to be ready")
    assert simulator.proc.popen.poll() is None, simulator.proc.log()[-3000:]

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    clients = {agent: adcp.ADCPClient(adcp.AgentConfig(id=agent, agent_uri=f"{base}/mcp", protocol="mcp"))
               for agent, base in simulator.base.items()}

    def call(agent: str, task: str, request_type, payload: dict):
        """One task on one agent, through the SDK client; returns its TaskResult."""
        request = getattr(types, request_type).model_validate(payload)
        future = asyncio.run_coroutine_threadsafe(getattr(clients[agent], task)(request), loop)
        return future.result(30)

    # A client's first call fetches capabilities and compiles the tools' output schemas (seconds of
    # CPU); do it here so the timed tests below start warm.
    for agent in clients:
        call(agent, "get_media_buys", "GetMediaBuysRequest", {"media_buy_ids": ["mb_warmup"]})

    yield SimpleNamespace(call=call, types=types, StaticJwksResolver=StaticJwksResolver,
                          WebhookVerifyOptions=WebhookVerifyOptions, verify=verify_webhook_signature)
    for client in clients.values():
        with contextlib.suppress(Exception):  # the last test stops the simulator first
            asyncio.run_coroutine_threadsafe(client.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def knobs(simulator):
    """knobs(agent, **values): change an agent's knobs for this test only."""
    changed = set()

    def set_knobs(agent: str, **values):
        response = requests.post(f"{simulator.base[agent]}/_sim/knobs", json=values, timeout=5)
        assert response.status_code == 200, response.text
        changed.add(agent)
        return response.json()

    yield set_knobs
    for agent in changed:
        requests.post(f"{simulator.base[agent]}/_sim/knobs", json=FULL_BASELINE, timeout=5).raise_for_status()


def in_seconds(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def create(sdk, agent: str, hook: str | None, *, auth: dict | None = None, end_in: float = 3600,
           operation_id: str | None = "op_sim_test", token: str | None = None, key: str | None = None,
           packages: int = 1):
    """create_media_buy with a push_notification_config; returns (TaskResult, media_buy_id, task_id)."""
    push = {"url": hook}
    if operation_id:
        push["operation_id"] = operation_id
    if token:
        push["token"] = token
    if auth:
        push["authentication"] = auth
    payload = {
        "idempotency_key": key or str(uuid.uuid4()),
        "account": ACCOUNT,
        "brand": {"domain": "acme.example"},
        "start_time": "asap",
        "end_time": in_seconds(end_in),
        "packages": [{"product_id": "display_ros", "pricing_option_id": "cpm_fixed", "budget": 5000}
                     for _ in range(packages)],
    }
    if hook:
        payload["push_notification_config"] = push
    result = sdk.call(agent, "create_media_buy", "CreateMediaBuyRequest", payload)
    assert result.success, result.error
    assert result.data.status == "submitted"
    return result, result.data.ext.model_dump()["media_buy_id"], result.data.task_id


def media_buys(sdk, agent: str, *ids: str, history: int = 0):
    payload = {"media_buy_ids": list(ids)}
    if history:
        payload["include_history"] = history
    result = sdk.call(agent, "get_media_buys", "GetMediaBuysRequest", payload)
    assert result.success, result.error
    return {m.media_buy_id: m for m in result.data.media_buys}


def status_of(sdk, agent: str, media_buy_id: str) -> str:
    return str(media_buys(sdk, agent, media_buy_id)[media_buy_id].status.value)


def update(sdk, agent: str, media_buy_id: str, **changes):
    result = sdk.call(agent, "update_media_buy", "UpdateMediaBuyRequest",
                      {"idempotency_key": str(uuid.uuid4()), "account": ACCOUNT, "media_buy_id": media_buy_id,
                       **changes})
    return result


def assert_payload_shape(record, *, task_id: str | None = None, operation_id: str | None = "op_sim_test"):
    body = record.json
    assert IDEMPOTENCY_KEY.match(body["idempotency_key"])
    assert body.get("operation_id") == operation_id
    if task_id:
        assert body["task_id"] == task_id
    stamp = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset() == timedelta(0) and abs(stamp.timestamp() - record.at) < 30


def test_create_with_hmac_walks_to_active_with_signed_webhooks(sdk, receiver, knobs):
    knobs("sim_ed", approval_delay_seconds=1.2)  # time to poll the buy before the seller decides
    hook = receiver.url("hmac")
    created, mb, task_id = create(sdk, "sim_ed", hook, token="t" * 20,
                                  auth={"schemes": ["HMAC-SHA256"], "credentials": SECRET})
    assert task_id and mb.startswith("mb_sim_ed_")
    # Polled before the seller decides: not confirmed yet.
    first = media_buys(sdk, "sim_ed", mb)[mb]
    assert first.confirmed_at is None

    records = receiver.wait("hmac", lambda rs: ("create_media_buy", "completed", "active") in lifecycle(rs, mb))
    assert lifecycle(records, mb)[:2] == [("create_media_buy", "submitted", None),
                                          ("create_media_buy", "completed", "active")]
    auth = InboundAuth("sim_ed", "hmac-sha256", (SECRET,))
    for record in records:
        verify_hmac(auth, record.headers, record.body, time.time(), 300)
        assert_payload_shape(record, task_id=task_id)
        assert record.json["token"] == "t" * 20
    assert len({r.json["idempotency_key"] for r in records}) == len(records)

    buy = media_buys(sdk, "sim_ed", mb, history=10)[mb]
    assert buy.status.value == "active" and buy.confirmed_at is not None and buy.status_as_of is not None
    assert [h.action for h in buy.history][-2:] == ["activated", "created"]
    task = sdk.call("sim_ed", "get_task_status", "GetTaskStatusRequest", {"task_id": task_id})
    assert task.success and task.data.status.value == "completed"


def test_bearer_webhooks_carry_the_registered_token(sdk, receiver):
    hook = receiver.url("bearer")
    _, mb, _ = create(sdk, "sim_ed", hook, auth={"schemes": ["Bearer"], "credentials": SECRET})
    records = receiver.wait("bearer", lambda rs: ("create_media_buy", "completed", "active") in lifecycle(rs, mb))
    for record in records:
        assert record.headers["Authorization"] == f"Bearer {SECRET}"
        verify_bearer(InboundAuth("sim_ed", "bearer", (SECRET,)), record.headers, record.body, time.time(), 300)
        assert "Signature" not in record.headers and "X-AdCP-Signature" not in record.headers


@pytest.mark.parametrize("agent, alg", [("sim_ed", "ed25519"), ("sim_ec", "ecdsa-p256-sha256")])
def test_without_authentication_webhooks_are_rfc9421_signed_with_the_agents_jwks(sdk, receiver, simulator,
                                                                                agent, alg):
    name = f"rfc9421-{agent}"
    _, mb, task_id = create(sdk, agent, receiver.url(name))
    records = receiver.wait(name, lambda rs: ("create_media_buy", "completed", "active") in lifecycle(rs, mb))
    jwks = requests.get(f"{simulator.base[agent]}/.well-known/jwks.json", timeout=5).json()
    assert [k["adcp_use"] for k in jwks["keys"]] == ["webhook-signing"]
    options = sdk.WebhookVerifyOptions(jwks_resolver=sdk.StaticJwksResolver(jwks))
    for record in records:
        headers = {k: v for k, v in record.headers.items()}
        assert f'alg="{alg}"' in headers["Signature-Input"] and 'tag="adcp/webhook-signing/v1"' in headers["Signature-Input"]
        sdk.verify(method="POST", url=record.url, headers=headers, body=record.body, options=options)
        assert_payload_shape(record, task_id=task_id)
        assert "Authorization" not in headers


def test_pause_resume_and_cancel_through_update_media_buy(sdk, receiver):
    hook = receiver.url("update")
    _, mb, _ = create(sdk, "sim_ed", hook, auth={"schemes": ["Bearer"], "credentials": SECRET})
    wait_until(lambda: status_of(sdk, "sim_ed", mb) == "active", 10, what="active")

    paused = update(sdk, "sim_ed", mb, paused=True)
    assert paused.success and paused.data.media_buy_status.value == "paused"
    assert status_of(sdk, "sim_ed", mb) == "paused"
    resumed = update(sdk, "sim_ed", mb, paused=False, packages=[{"package_id": f"{mb}_pkg1", "budget": 7000}])
    assert resumed.success and resumed.data.media_buy_status.value == "active"
    assert resumed.data.affected_packages[0].budget == 7000
    canceled = update(sdk, "sim_ed", mb, canceled=True, cancellation_reason="campaign stopped")
    assert canceled.success and canceled.data.media_buy_status.value == "canceled"
    buy = media_buys(sdk, "sim_ed", mb)[mb]
    assert buy.status.value == "canceled" and buy.cancellation.reason == "campaign stopped"

    records = receiver.wait("update", lambda rs: ("update_media_buy", "completed", "canceled") in lifecycle(rs, mb))
    updates = [step for step in lifecycle(records, mb) if step[0] == "update_media_buy"]
    assert updates == [("update_media_buy", "completed", s) for s in ("paused", "active", "canceled")]
    late = update(sdk, "sim_ed", mb, paused=True)
    assert not late.success and late.adcp_error["code"] == "INVALID_STATE"
    again = update(sdk, "sim_ed", mb, canceled=True)
    assert not again.success and again.adcp_error["code"] == "NOT_CANCELLABLE"


def test_input_required_until_creatives_are_synced_then_active(sdk, receiver, knobs):
    knobs("sim_ec", input_required_share=1.0)
    name = "review"
    _, mb, _ = create(sdk, "sim_ec", receiver.url(name))
    receiver.wait(name, lambda rs: ("create_media_buy", "input-required", "pending_creatives") in lifecycle(rs, mb))
    assert status_of(sdk, "sim_ec", mb) == "pending_creatives"

    synced = sdk.call("sim_ec", "sync_creatives", "SyncCreativesRequest", {
        "idempotency_key": str(uuid.uuid4()), "account": ACCOUNT,
        "creatives": [{"creative_id": "cr_sim_1", "name": "Spring banner", "format_kind": "image",
                       "assets": {"image": {"asset_type": "image", "url": "https://cdn.example/a.png",
                                            "width": 300, "height": 250}}}],
        "assignment_operations": [{"operation": "assign", "creative_id": "cr_sim_1", "package_id": f"{mb}_pkg1"}],
    })
    assert synced.success, synced.error
    assert synced.data.creatives[0].assigned_to == [f"{mb}_pkg1"]
    records = receiver.wait(name, lambda rs: ("create_media_buy", "completed", "active") in lifecycle(rs, mb))
    assert lifecycle(records, mb) == [("create_media_buy", "submitted", None),
                                      ("create_media_buy", "input-required", "pending_creatives"),
                                      ("create_media_buy", "completed", "active")]
    assert status_of(sdk, "sim_ec", mb) == "active"


def test_a_rejected_buy_says_why(sdk, receiver, knobs):
    knobs("sim_ed", reject_share=1.0)
    _, mb, task_id = create(sdk, "sim_ed", receiver.url("reject"))
    records = receiver.wait("reject", lambda rs: ("create_media_buy", "rejected", "rejected") in lifecycle(rs, mb))
    rejected = [r for r in records if r.json["status"] == "rejected"][0]
    assert rejected.json["result"]["errors"][0]["code"] == "PRODUCT_UNAVAILABLE"
    buy = media_buys(sdk, "sim_ed", mb)[mb]
    assert buy.status.value == "rejected" and buy.rejection_reason
    task = sdk.call("sim_ed", "get_task_status", "GetTaskStatusRequest", {"task_id": task_id})
    assert task.data.status.value == "failed"


def test_delivery_reports_grow_and_the_flight_end_completes_the_buy(sdk, receiver):
    name = "delivery"
    _, mb, task_id = create(sdk, "sim_ed", receiver.url(name), end_in=3.0, packages=2)
    records = receiver.wait(name, lambda rs: any(r.json["task_type"] == "media_buy_delivery"
                                                 and r.json["result"]["notification_type"] == "final" for r in rs),
                            timeout=15)
    # Each report is its own delivery and may overtake another; the sequence number orders them.
    reports = sorted((r.json for r in records if r.json["task_type"] == "media_buy_delivery"),
                     key=lambda body: body["result"]["sequence_number"])
    scheduled = [r for r in reports if r["result"]["notification_type"] == "scheduled"]
    final = reports[-1]
    assert len(scheduled) >= 2 and final["result"]["notification_type"] == "final"
    rows = [r["result"]["media_buy_deliveries"][0] for r in reports]
    assert all(row["media_buy_id"] == mb for row in rows)
    impressions = [row["totals"]["impressions"] for row in rows]
    spend = [row["totals"]["spend"] for row in rows]
    assert impressions == sorted(impressions) and impressions[0] < impressions[-1] and spend[0] < spend[-1]
    for row in rows:
        assert len(row["by_package"]) == 2
        assert row["totals"]["impressions"] == sum(p["impressions"] for p in row["by_package"])
        assert {"package_id", "impressions", "spend", "clicks"} <= set(row["by_package"][0])
    assert [row["status"] for row in rows] == ["active"] * len(scheduled) + ["completed"]
    assert all(r["task_id"] == task_id and r["status"] == "completed" for r in reports)
    assert status_of(sdk, "sim_ed", mb) == "completed"
    delivery = sdk.call("sim_ed", "get_media_buy_delivery", "GetMediaBuyDeliveryRequest", {"media_buy_ids": [mb]})
    assert delivery.success, delivery.error
    assert delivery.data.media_buy_deliveries[0].totals.impressions == impressions[-1]


def test_dropping_every_webhook_leaves_polling_to_tell_the_truth(sdk, receiver, knobs, simulator):
    knobs("sim_ed", webhook_drop_share=1.0)
    before = requests.get(f"{simulator.base['sim_ed']}/_sim/stats", timeout=5).json().get("webhooks_dropped", 0)
    _, mb, _ = create(sdk, "sim_ed", receiver.url("drop"))
    wait_until(lambda: status_of(sdk, "sim_ed", mb) == "active", 10, what="active")
    time.sleep(0.6)  # a delivery report's worth
    assert receiver.at("drop", accepted_only=False) == []
    stats = requests.get(f"{simulator.base['sim_ed']}/_sim/stats", timeout=5).json()
    assert stats["webhooks_dropped"] >= before + 2
    log = requests.get(f"{simulator.base['sim_ed']}/_sim/webhooks", params={"media_buy_id": mb}, timeout=5).json()
    assert {e["outcome"] for e in log["webhooks"]} == {"dropped"}


def test_duplicated_webhooks_repeat_the_same_idempotency_key_and_bytes(sdk, receiver, knobs):
    knobs("sim_ec", webhook_duplicate_share=1.0)
    _, mb, _ = create(sdk, "sim_ec", receiver.url("dup"), auth={"schemes": ["HMAC-SHA256"], "credentials": SECRET})
    records = receiver.wait("dup", lambda rs: lifecycle(rs, mb).count(("create_media_buy", "completed", "active")) == 2)
    by_key: dict[str, list] = {}
    for record in records:
        if record.json["task_type"] != "create_media_buy":
            continue  # a delivery report's second copy may still be on its way
        by_key.setdefault(record.json["idempotency_key"], []).append(record.body)
    assert len(by_key) >= 2 and all(len(bodies) == 2 and bodies[0] == bodies[1] for bodies in by_key.values())


def test_failed_deliveries_are_retried_with_the_same_idempotency_key(sdk, receiver, knobs):
    knobs("sim_ed", submitted_webhook=False, delivery_interval_seconds=0)
    receiver.fail_first["/hooks/retry"] = 2
    _, mb, _ = create(sdk, "sim_ed", receiver.url("retry"))
    receiver.wait("retry", lambda rs: ("create_media_buy", "completed", "active") in lifecycle(rs, mb))
    attempts = receiver.at("retry", accepted_only=False)
    assert [r.status for r in attempts] == [503, 503, 200]
    assert len({r.json["idempotency_key"] for r in attempts}) == 1
    assert len({r.body for r in attempts}) == 1


def test_a_silent_status_change_shows_in_polls_and_sends_nothing(sdk, receiver, simulator):
    _, mb, _ = create(sdk, "sim_ec", receiver.url("silent"))
    receiver.wait("silent", lambda rs: ("create_media_buy", "completed", "active") in lifecycle(rs, mb))
    response = requests.post(f"{simulator.base['sim_ec']}/_sim/buys/{mb}/status", json={"status": "paused"}, timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "paused"
    paused_at = datetime.fromisoformat(response.json()["status_as_of"].replace("Z", "+00:00"))
    assert status_of(sdk, "sim_ec", mb) == "paused"
    time.sleep(1.0)  # more than two delivery intervals: a paused buy reports nothing either
    # Judged by when each webhook was generated, not when it arrived: one built just before the
    # pause may still be in flight.
    generated = [datetime.fromisoformat(r.json["timestamp"].replace("Z", "+00:00")) for r in receiver.at("silent")]
    assert generated and all(stamp < paused_at + timedelta(milliseconds=1) for stamp in generated)
    assert all(step[2] != "paused" for step in lifecycle(receiver.at("silent"), mb))
    assert requests.get(f"{simulator.base['sim_ec']}/_sim/stats", timeout=5).json()["silent_changes"] >= 1
    bad = requests.post(f"{simulator.base['sim_ec']}/_sim/buys/{mb}/status", json={"status": "nope"}, timeout=5)
    assert bad.status_code == 400


def test_polls_fail_or_slow_down_on_demand(sdk, knobs, simulator):
    knobs("sim_ec", poll_adcp_error_share=1.0)
    result = sdk.call("sim_ec", "get_media_buys", "GetMediaBuysRequest", {"media_buy_ids": ["mb_missing"]})
    assert not result.success and result.adcp_error["code"] == "SERVICE_UNAVAILABLE"
    knobs("sim_ec", poll_adcp_error_share=0.0, poll_http_error_share=1.0)
    result = sdk.call("sim_ec", "get_media_buys", "GetMediaBuysRequest", {"media_buy_ids": ["mb_missing"]})
    assert not result.success
    knobs("sim_ec", poll_http_error_share=0.0, poll_slow_share=1.0, poll_slow_seconds=0.5)
    started = time.monotonic()
    result = sdk.call("sim_ec", "get_media_buys", "GetMediaBuysRequest", {"media_buy_ids": ["mb_missing"]})
    assert result.success and time.monotonic() - started >= 0.5
    assert result.data.errors[0].code == "MEDIA_BUY_NOT_FOUND"
    stats = requests.get(f"{simulator.base['sim_ec']}/_sim/stats", timeout=5).json()
    assert stats["polls_failed_adcp"] >= 1 and stats["polls_failed_http"] >= 1 and stats["polls_slowed"] >= 1
    refused = requests.post(f"{simulator.base['sim_ec']}/_sim/knobs", json={"webhook_drop_share": 3}, timeout=5)
    assert refused.status_code == 400 and "webhook_drop_share" in refused.json()["error"]["message"]


def test_a_retried_create_finds_the_same_buy(sdk, receiver):
    key = str(uuid.uuid4())
    _, first, _ = create(sdk, "sim_ed", receiver.url("replay"), key=key)
    _, second, _ = create(sdk, "sim_ed", receiver.url("replay"), key=key)
    assert first == second


def test_control_api_lists_buys_and_ctrl_c_stops_cleanly(simulator, sdk):
    buys = requests.get(f"{simulator.base['sim_ed']}/_sim/buys", timeout=5).json()["media_buys"]
    assert buys and {"media_buy_id", "status", "phase", "history", "totals", "push"} <= set(buys[0])
    # Each agent says when it listens, counted from the process start (the SDK import is most of it).
    listening_after = [float(s) for s in re.findall(r"listening on .* after ([0-9.]+)s", simulator.proc.log())]
    assert len(listening_after) == 2 and max(listening_after) < 60
    simulator.proc.popen.send_signal(signal.SIGINT)
    assert simulator.proc.popen.wait(15) == 0
    log = simulator.proc.log()
    assert log.rstrip().endswith("stopped") and "Traceback" not in log and "ERROR" not in log
