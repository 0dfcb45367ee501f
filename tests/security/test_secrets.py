"""Secrets at rest and in logs: agent HMAC secrets and Bearer tokens are stored sealed (Fernet under
MEDIABUY_SECRETS_KEY), API keys as their SHA-256; a process without the key refuses to start; and no
secret, key or token reaches any log of the run's processes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time

import pytest
import requests

from mediabuy_sync.store import secretbox
from mediabuy_sync.config import settings
from mediabuy_sync.store import agents as agent_store
from mediabuy_sync.store.db import transaction
from mediabuy_sync.store.migrate import upgrade
from support.stack import BIN, OUTPUT, PROCFILE, ROOT, wait_until
from support.webhooks import task_payload

ADMIN_TOKEN = "test-admin-token-of-at-least-32-bytes"  # tests/conftest.py


def test_agent_secrets_are_stored_sealed_and_api_keys_hashed(make_agent, api_key, db):
    hmac_agent, bearer_agent = make_agent("hmac-sha256"), make_agent("bearer")
    key = api_key("adv_" + secrets.token_hex(3))

    for agent in (hmac_agent, bearer_agent):
        [row] = db("SELECT secret, secret_sealed, c::text AS whole FROM agent_credentials c WHERE agent_id = %s",
                   (agent.agent_id,))
        assert row["secret"] is None
        assert agent.secret not in row["whole"]
        assert secretbox.open_sealed(row["secret_sealed"]) == agent.secret
    assert not db("SELECT 1 FROM api_keys k WHERE strpos(k::text, %s) > 0", (key,))
    # and the web still verifies with them
    assert hmac_agent.post(task_payload("sa_x", "active")).status_code == 202
    assert bearer_agent.post(task_payload("sa_x", "active")).status_code == 202


def _with_keys(monkeypatch, keys: str) -> None:
    monkeypatch.setenv("MEDIABUY_SECRETS_KEY", keys)
    settings.cache_clear()


@pytest.fixture
def restore_settings(monkeypatch):
    yield monkeypatch
    monkeypatch.undo()
    settings.cache_clear()


def test_upgrade_seals_the_secrets_stored_in_clear_before_0006(make_agent, database, db):
    agent = make_agent("hmac-sha256")
    legacy = secrets.token_urlsafe(32)
    db("INSERT INTO agent_credentials (agent_id, kind, secret) VALUES (%s, 'hmac-sha256', %s)", (agent.agent_id, legacy))

    assert "sealed the agent secrets stored in clear" in upgrade(database)

    assert not db("SELECT 1 FROM agent_credentials WHERE secret IS NOT NULL")
    with transaction() as conn:
        assert set(agent_store.inbound_credentials(conn, agent.agent_id).secrets) == {agent.secret, legacy}
    assert upgrade(database) == []  # nothing left to do


def test_a_new_key_first_then_rotate_reseals_everything_and_the_old_key_can_go(make_agent, db, restore_settings):
    agent = make_agent("bearer")
    old = os.environ["MEDIABUY_SECRETS_KEY"]
    new = secretbox.new_key()
    _with_keys(restore_settings, f"{new},{old}")
    try:
        with transaction() as conn:
            assert agent_store.reseal_secrets(conn) >= 1
        _with_keys(restore_settings, new)  # the old key is gone
        with transaction() as conn:
            assert agent_store.inbound_credentials(conn, agent.agent_id).secrets == (agent.secret,)
    finally:  # sealed with the run's key again, for the processes that only have that one
        _with_keys(restore_settings, f"{old},{new}")
        with transaction() as conn:
            agent_store.reseal_secrets(conn)


def test_a_secret_sealed_with_an_unknown_key_is_a_clear_error(restore_settings):
    token = secretbox.seal("s3cret-value-of-some-length")
    _with_keys(restore_settings, secretbox.new_key())
    with pytest.raises(secretbox.SecretsKeyMissing, match="none of the keys"):
        secretbox.open_sealed(token)


@pytest.mark.parametrize("process, value", [("web", ""), ("worker", "not-a-fernet-key")])
def test_a_process_without_a_usable_key_refuses_to_start_and_says_why(stack, process, value):
    argv = PROCFILE[process].split()
    argv = [str(BIN / argv[0]), *[a.strip("'") for a in argv[1:]]]
    env = {**stack["env"], "MEDIABUY_SECRETS_KEY": value, "MEDIABUY_BIND": "127.0.0.1:0",
           "MEDIABUY_REDIS_NAMESPACE": "keyless-" + secrets.token_hex(3) + ":"}
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "MEDIABUY_SECRETS_KEY" in done.stdout + done.stderr


def test_the_cli_says_what_to_do_without_a_key(restore_settings, capsys):
    from mediabuy_sync import cli

    _with_keys(restore_settings, "")
    assert cli.main(["agents", "add", "--id", "agent_" + secrets.token_hex(3), "--endpoint", "http://x/mcp"]) == 2
    assert "MEDIABUY_SECRETS_KEY is not set" in capsys.readouterr().err


def test_services_up_makes_a_key_once_and_keeps_it(tmp_path, monkeypatch):
    from mediabuy_sync.devtools import services as devservices

    monkeypatch.delenv("MEDIABUY_SECRETS_KEY")
    first = devservices.secrets_key(tmp_path)
    assert devservices.secrets_key(tmp_path) == first
    assert (tmp_path / ".local" / "secrets.key").stat().st_mode & 0o777 == 0o600
    secretbox._box(first)  # a valid Fernet key
    monkeypatch.setenv("MEDIABUY_SECRETS_KEY", "k1")
    assert devservices.secrets_key(tmp_path) == "k1"  # the environment's wins


def test_no_secret_reaches_a_log(stack, make_agent, make_campaign, api_key, db):
    """Traffic that carries every kind of secret, rightly and wrongly, then every log of this run
    (test-output/<run>/: web, worker, beat, simulated agents…) is scanned for every secret the
    database holds — opened with the key — and for the API key, admin token and the key itself."""
    hmac_agent, bearer_agent = make_agent("hmac-sha256"), make_agent("bearer")
    base = stack["base_url"]
    key = api_key("adv_logscan")
    their, _ = make_campaign([(hmac_agent, "sa_logscan", "ACTIVE")], advertiser_id="adv_other_logscan")

    for agent in (hmac_agent, bearer_agent):
        body = json.dumps(task_payload("sa_logscan", "active")).encode()
        agent.post(body)  # accepted
        agent.post(body)  # duplicate
        agent.post(b"{not json", headers=agent.headers_for(b"{not json"))
        agent.post(body.replace(b"active", b"paused"), headers=agent.headers_for(body))  # tampered
        agent.post(body, headers={**agent.headers_for(body), "Content-Type": "text/plain"})
    for token in (bearer_agent.secret, key, ADMIN_TOKEN):  # each where it is right and where it is not
        auth = {"Authorization": f"Bearer {token}"}
        requests.get(f"{base}/api/v2/buyer/campaigns", headers=auth, timeout=10)
        requests.get(f"{base}/api/v2/buyer/campaigns/{their}", headers=auth, timeout=10)
        requests.post(f"{base}/api/v2/buyer/campaigns", data=b"{oops", headers={**auth, "Content-Type": "application/json"}, timeout=10)
        requests.get(f"{base}/admin/events/dead", headers=auth, timeout=10)
        requests.post(f"{base}/webhooks/adcp/agent_nobody", json={}, headers=auth, timeout=10)
        requests.post(f"{base}/webhooks/adcp/{hmac_agent.agent_id}", json={}, headers=auth, timeout=10)
    time.sleep(1)  # let the processes write their lines

    sealed = db("SELECT secret_sealed FROM agent_credentials WHERE secret_sealed IS NOT NULL")
    known = {secretbox.open_sealed(row["secret_sealed"]) for row in sealed}
    assert {hmac_agent.secret, bearer_agent.secret} <= known
    known |= {key, ADMIN_TOKEN, *os.environ["MEDIABUY_SECRETS_KEY"].split(",")}
    logs = sorted(p for p in OUTPUT.rglob("*") if p.is_file() and p.suffix in (".log", ".txt", ".json", ""))
    assert any(p.name == "web.log" for p in logs) and any(p.name == "worker.log" for p in logs), logs
    wait_until(lambda: "webhook" in (OUTPUT / "web.log").read_text(errors="replace"), what="the web's log lines")
    leaks = [f"{path.relative_to(OUTPUT)}: {secret[:6]}…"
             for path in logs for secret in known if secret in path.read_text(errors="replace")]
    assert not leaks, leaks
