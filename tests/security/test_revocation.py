"""Revocation (issue 20 point 3): `agents retire-secret`, `agents retire-key`, `apikeys revoke`, by the
CLI and the admin API, effective at once in every web process — two gunicorns of one worker each,
both holding the agent's credentials in their cache when it is revoked (services/agent_credentials.py
drops them on the commit's NOTIFY, not after its 5 s)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests

from mediabuy_sync.store import agents
from mediabuy_sync.store.db import transaction
from support.rfc9421 import SigningKey
from support.stack import BIN, start_web
from support.webhooks import Sender, task_payload

ADMIN = {"Authorization": f"Bearer {os.environ['MEDIABUY_ADMIN_TOKEN']}"}


@pytest.fixture(scope="module")
def two_webs(stack):
    """Two web processes (one gunicorn worker each) on the same database."""
    started = [start_web({**stack["env"], "MEDIABUY_WEB_WORKERS": "1"}, name=f"web-revoke-{n}") for n in (1, 2)]
    yield [base for _, base in started]
    for proc, _ in started:
        proc.stop()


def cli(*args: str) -> dict:
    """The CLI as an operator runs it: its own process."""
    run = subprocess.run([str(BIN / "mediabuy-sync"), *args], capture_output=True, text=True, timeout=60,
                         env=os.environ)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.strip().startswith("{") else {"out": run.stdout}


def hmac_agent(scheme: str = "hmac-sha256") -> tuple[str, str, int]:
    added = cli("agents", "add", "--id", "agent_rv" + os.urandom(3).hex(), "--endpoint", "http://127.0.0.1:9/mcp",
                "--scheme", scheme)
    return added["agent_id"], added["secret"], added["credential_id"]


def post_to(base: str, sender: Sender) -> requests.Response:
    return Sender(base, sender.agent_id, sender.scheme, sender.secret).post(task_payload("sa_x", "active"))


def reason(answer: requests.Response) -> str:
    return answer.json()["error"]["details"]["reason"]


@pytest.mark.parametrize("scheme", ["hmac-sha256", "bearer"])
def test_a_retired_secret_is_refused_at_once_by_every_web_process(two_webs, scheme):
    agent_id, secret, credential_id = hmac_agent(scheme)
    sender = Sender(two_webs[0], agent_id, scheme, secret)
    for base in two_webs:  # both processes now keep the agent's credentials
        assert post_to(base, sender).status_code == 202
    rotated = cli("agents", "add-secret", agent_id)

    cli("agents", "retire-secret", agent_id, str(credential_id))

    for base in two_webs:
        answer = post_to(base, sender)
        assert answer.status_code == 401, answer.text
        assert reason(answer) in ("webhook_signature_invalid", "webhook_auth_invalid")
        # the other secret of the rotation still works
        assert post_to(base, Sender(base, agent_id, scheme, rotated["secret"])).status_code == 202
    listed = cli("agents", "credentials", agent_id)["out"].splitlines()
    assert [line.split("\t")[3] for line in listed] == ["revoked", "active"]


def test_the_admin_api_retires_a_secret_at_once_in_every_web_process(two_webs):
    agent_id, secret, credential_id = hmac_agent()
    sender = Sender(two_webs[0], agent_id, "hmac-sha256", secret)
    for base in two_webs:
        assert post_to(base, sender).status_code == 202

    answer = requests.post(f"{two_webs[0]}/admin/agents/{agent_id}/credentials/{credential_id}/retire",
                           headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"data": {"revoked": True}, "error": None}

    for base in two_webs:
        assert post_to(base, sender).status_code == 401
    again = requests.post(f"{two_webs[1]}/admin/agents/{agent_id}/credentials/{credential_id}/retire",
                          headers=ADMIN, timeout=10)
    assert again.status_code == 404 and again.json()["error"]["code"] == "NOT_FOUND"
    listed = requests.get(f"{two_webs[1]}/admin/agents/{agent_id}/credentials", headers=ADMIN, timeout=10).json()["data"]
    assert [(row["id"], row["active"], row["revoked_at"] is not None) for row in listed] == [(credential_id, False, True)]
    assert "secret" not in json.dumps(listed)


def test_a_retired_key_is_refused_as_revoked_and_a_jwks_still_listing_it_does_not_bring_it_back(
        two_webs, make_signed_agent, jwks_server, db):
    old, new = SigningKey.generate(), SigningKey.generate()
    agent = make_signed_agent(old, new)
    signed = [type(agent)(base, agent.agent_id, agent.keys) for base in two_webs]
    for sender in signed:
        body = json.dumps(task_payload("sa_x", "active")).encode()
        assert sender.post(body, headers=sender.headers_for(body, key=old)).status_code == 202

    answer = requests.post(f"{two_webs[1]}/admin/agents/{agent.agent_id}/keys/{old.kid}/retire", headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text

    for sender in signed:
        body = json.dumps(task_payload("sa_x", "active")).encode()
        refused = sender.post(body, headers=sender.headers_for(body, key=old))
        assert refused.status_code == 401
        assert reason(refused) == "webhook_signature_key_revoked"
        body = json.dumps(task_payload("sa_x", "active")).encode()
        assert sender.post(body, headers=sender.headers_for(body, key=new)).status_code == 202
    # the agent's JWKS still lists the old key: a refresh keeps it revoked
    cli("agents", "refresh-keys", agent.agent_id)
    rows = db("SELECT key_id, active FROM agent_credentials WHERE agent_id = %s AND kind = 'jwk' ORDER BY key_id",
              (agent.agent_id,))
    assert {row["key_id"]: row["active"] for row in rows} == {old.kid: False, new.kid: True}
    # and by the CLI: the other key too
    cli("agents", "retire-key", agent.agent_id, new.kid)
    body = json.dumps(task_payload("sa_x", "active")).encode()
    assert reason(signed[0].post(body, headers=signed[0].headers_for(body, key=new))) == "webhook_signature_key_revoked"


@pytest.mark.parametrize("how", ["cli", "admin"])
def test_a_revoked_api_key_is_refused_at_once(two_webs, how):
    advertiser = "adv_rv" + os.urandom(3).hex()
    created = cli("apikeys", "create", "--advertiser", advertiser)
    bearer = {"Authorization": f"Bearer {created['api_key']}"}
    for base in two_webs:
        assert requests.get(f"{base}/api/v2/buyer/campaigns", headers=bearer, timeout=10).status_code == 200

    if how == "cli":
        cli("apikeys", "revoke", created["key_id"])
    else:
        answer = requests.post(f"{two_webs[0]}/admin/api-keys/{created['key_id']}/revoke", headers=ADMIN, timeout=10)
        assert answer.status_code == 200, answer.text

    for base in two_webs:
        answer = requests.get(f"{base}/api/v2/buyer/campaigns", headers=bearer, timeout=10)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "UNAUTHORIZED"


def test_revoking_what_does_not_exist_is_a_clear_refusal(two_webs):
    for path in ("/admin/agents/nobody/credentials/1/retire", "/admin/agents/nobody/keys/k1/retire",
                 "/admin/api-keys/key_nothing/revoke"):
        answer = requests.post(two_webs[0] + path, headers=ADMIN, timeout=10)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND", path
    run = subprocess.run([str(BIN / "mediabuy-sync"), "apikeys", "revoke", "key_nothing"], capture_output=True,
                         text=True, timeout=60, env=os.environ)
    assert run.returncode == 2 and "error:" in run.stderr
    with transaction() as conn:
        assert agents.get_agent(conn, "nobody") is None
