"""Signatures hardened (issue 20 points 2 and 4, issue 16 points 11 and 12), through the real gunicorn:
RFC 9421 bound to our public URL, JWKS fetched off the request path with one deadline, a refresh that
would retire every key refused, the per-key replay-cache cap, the opt-in compact-JSON HMAC."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time

import pytest
import requests

from mediabuy_sync import cli
from mediabuy_sync.store import agents
from mediabuy_sync.store.db import transaction
from support.rfc9421 import SigningKey
from support.stack import BIN, PROCFILE, start_web, wait_until
from support.webhooks import Sender, task_payload
from mediabuy_sync.adcp.signatures import hmac_headers
from mediabuy_sync.devtools import processes as devprocs


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def reason(answer: requests.Response) -> str:
    assert answer.status_code == 401, answer.text
    return answer.json()["error"]["details"]["reason"]


def active_kids(db, agent_id):
    rows = db("SELECT key_id FROM agent_credentials WHERE agent_id = %s AND kind = 'jwk' AND active ORDER BY key_id",
              (agent_id,))
    return [row["key_id"] for row in rows]


def metric(base: str, name: str, **labels) -> float:
    total = 0.0
    for line in requests.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# --- point 2: bound to our URL ---------------------------------------------------------------------


def test_a_webhook_signed_for_another_receiver_is_refused(make_signed_agent, db):
    agent = make_signed_agent()
    other = f"https://hooks.other-buyer.example/webhooks/adcp/{agent.agent_id}"
    body = body_of(task_payload("sa_x", "active"))
    # sent to us with the Host it was signed for, as a relayed webhook would be
    answer = agent.post(body, headers={**agent.headers_for(body, url=other), "Host": "hooks.other-buyer.example"})
    assert reason(answer) == "webhook_signature_invalid"
    assert db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (agent.agent_id,))[0]["n"] == 0
    body = body_of(task_payload("sa_x", "active"))
    assert agent.post(body, headers=agent.headers_for(body)).status_code == 202  # signed for us: accepted


@pytest.mark.parametrize("setting, value, complaint", [
    ("MEDIABUY_PUBLIC_BASE_URL", "", "MEDIABUY_PUBLIC_BASE_URL must be set"),
    ("MEDIABUY_PUBLIC_BASE_URL", "hooks.example.com", "MEDIABUY_PUBLIC_BASE_URL must be set"),
    ("MEDIABUY_ADMIN_TOKEN", "short-token", "at least 32 bytes"),
])
def test_the_web_refuses_to_start_without_a_public_url_or_with_a_short_admin_token(stack, setting, value, complaint):
    env = {**stack["env"], "MEDIABUY_PUBLIC_BASE_URL": "http://127.0.0.1:1", "MEDIABUY_BIND": "127.0.0.1:0", setting: value}
    run = subprocess.run(devprocs.procfile_argv("web"), env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert complaint in run.stderr + run.stdout


# --- point 4: JWKS off the request path ------------------------------------------------------------


def test_a_slow_jwks_server_neither_holds_the_request_nor_the_refresh_past_its_deadline(
        make_signed_agent, jwks_server, stack):
    agent = make_signed_agent()
    rotated = SigningKey.generate()
    jwks_server.publish(agent.agent_id, agent.keys + [rotated])
    jwks_server.drip[agent.agent_id] = 1.0  # a byte a second: ~600 s for the document
    failed_before = metric(stack["base_url"], "mediabuy_jwks_refresh_total", outcome="failed")
    try:
        body = body_of(task_payload("sa_x", "active"))
        start = time.monotonic()
        answer = agent.post(body, headers=agent.headers_for(body, key=rotated))
        assert time.monotonic() - start < 1.0  # answered at once, the fetch is not in the request
        assert reason(answer) == "webhook_signature_key_unknown"
        # the background fetch gives up at its deadline (MEDIABUY_JWKS_FETCH_TIMEOUT_SECONDS, 3 s), not 600 s
        wait_until(lambda: metric(stack["base_url"], "mediabuy_jwks_refresh_total", outcome="failed") > failed_before,
                   10, what="the refresh to fail at its deadline")
        assert f"took over 3 s" in stack["web"].log()
    finally:
        jwks_server.drip.pop(agent.agent_id)


def test_a_refresh_that_would_retire_every_key_is_refused_and_alarmed(make_signed_agent, jwks_server, db, stack):
    agent = make_signed_agent()
    (old,) = agent.keys
    stranger = SigningKey.generate()
    jwks_server.publish(agent.agent_id, [stranger])  # a JWKS now listing none of the agent's keys
    refused_before = metric(stack["base_url"], "mediabuy_jwks_refresh_total", outcome="refused_retire_all")

    body = body_of(task_payload("sa_x", "active"))
    assert reason(agent.post(body, headers=agent.headers_for(body, key=stranger))) == "webhook_signature_key_unknown"

    wait_until(lambda: metric(stack["base_url"], "mediabuy_jwks_refresh_total", outcome="refused_retire_all")
               > refused_before, 10, what="the refusal")
    assert active_kids(db, agent.agent_id) == [old.kid]
    assert any(f"JWKS refresh of {agent.agent_id} refused" in line and '"ERROR"' in line
               for line in stack["web"].log().splitlines())
    body = body_of(task_payload("sa_x", "active"))
    assert agent.post(body, headers=agent.headers_for(body, key=old)).status_code == 202


def test_agents_add_refuses_a_plain_http_jwks_without_the_development_setting(jwks_server, db):
    agent_id = "agent_" + secrets.token_hex(4)
    jwks_server.publish(agent_id, [SigningKey.generate()])
    run = subprocess.run([str(BIN / "mediabuy-sync"), "agents", "add", "--id", agent_id, "--endpoint", "http://x/mcp",
                          "--scheme", "rfc9421", "--jwks-uri", jwks_server.url(agent_id)],
                         env={**os.environ, "MEDIABUY_JWKS_ALLOW_HTTP": "0"}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "https" in run.stderr
    assert db("SELECT id FROM sales_agents WHERE id = %s", (agent_id,)) == []


# --- issue 16 point 12: the per-key replay-cache cap -----------------------------------------------


@pytest.fixture(scope="module")
def capped_web(stack):
    proc, base = start_web({**stack["env"], "MEDIABUY_RFC9421_NONCES_PER_KEY": "3"}, name="web-capped")
    yield base
    proc.stop()


def test_past_the_per_key_nonce_cap_webhooks_are_refused_as_rate_abuse_never_evicted(make_signed_agent, capped_web, db):
    agent = make_signed_agent(base_url=capped_web)
    for _ in range(3):
        body = body_of(task_payload("sa_x", "active"))
        assert agent.post(body, headers=agent.headers_for(body)).status_code == 202
    body = body_of(task_payload("sa_x", "active"))
    answer = agent.post(body, headers=agent.headers_for(body))
    assert reason(answer) == "webhook_signature_rate_abuse"
    assert answer.headers["WWW-Authenticate"] == 'Signature error="webhook_signature_rate_abuse"'
    assert db("SELECT count(*) AS n FROM webhook_nonces WHERE agent_id = %s", (agent.agent_id,))[0]["n"] == 3
    assert db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (agent.agent_id,))[0]["n"] == 3


# --- issue 16 point 11: HMAC over the compact JSON, opt-in -----------------------------------------


def _spaced_webhook_signed_compact(sender: Sender) -> tuple[bytes, dict]:
    """What one real seller does: signs json.dumps(body, separators=(",", ":")), posts the default separators."""
    payload = task_payload("sa_" + secrets.token_hex(3), "active")
    compact = json.dumps(payload, separators=(",", ":")).encode()
    spaced = json.dumps(payload).encode()
    assert spaced != compact
    return spaced, {"Content-Type": "application/json", **hmac_headers(sender.secret, compact, int(time.time()))}


def test_an_hmac_over_the_compact_json_is_accepted_only_for_an_agent_that_opted_in_and_counted(stack, db):
    def add(*flags):
        agent_id = "agent_" + secrets.token_hex(4)
        run = subprocess.run([str(BIN / "mediabuy-sync"), "agents", "add", "--id", agent_id, "--endpoint",
                              "http://127.0.0.1:9/mcp", *flags], env=os.environ, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return Sender(stack["base_url"], agent_id, "hmac-sha256", json.loads(run.stdout)["secret"])

    strict, lenient = add(), add("--hmac-compact-json")
    body, headers = _spaced_webhook_signed_compact(strict)
    assert reason(strict.post(body, headers=headers)) == "webhook_signature_invalid"

    before = metric(stack["base_url"], "mediabuy_webhook_hmac_compact_json_total", agent=lenient.agent_id)
    body, headers = _spaced_webhook_signed_compact(lenient)
    assert lenient.post(body, headers=headers).status_code == 202
    assert metric(stack["base_url"], "mediabuy_webhook_hmac_compact_json_total", agent=lenient.agent_id) == before + 1
    # the exact bytes still verify, uncounted; another body under the same signature does not
    assert lenient.post(task_payload("sa_y", "active")).status_code == 202
    assert metric(stack["base_url"], "mediabuy_webhook_hmac_compact_json_total", agent=lenient.agent_id) == before + 1
    other = json.dumps({**json.loads(body), "status": "failed"}).encode()
    assert reason(lenient.post(other, headers=headers)) == "webhook_signature_invalid"
    with transaction() as conn:
        assert agents.inbound_credentials(conn, lenient.agent_id).hmac_compact_json is True
        assert agents.inbound_credentials(conn, strict.agent_id).hmac_compact_json is False
