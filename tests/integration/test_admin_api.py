"""The admin API for buyer API keys and agents' upkeep, and the audit of every admin change (issue 17
point 6) — through the running web (gunicorn), a worker and the CLI: a key created over the admin API
works on the buyer API, is listed without its secret and, once revoked, is refused; every change is
audited with its actor (the admin token's fingerprint, or cli:<user>) and never a secret; a refusal
changes nothing and audits nothing."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import secrets
import time

import pytest
import requests

from mediabuy_sync import cli
from support.rfc9421 import SigningKey
from support.buyer import campaign_body
from support.rows import row_counter
from support.sim import start_simulator
from support.webhooks import task_payload

TOKEN = os.environ["MEDIABUY_ADMIN_TOKEN"]
ADMIN_ACTOR = "admin-token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:8]
CLI_ACTOR = "cli:" + getpass.getuser()


@pytest.fixture
def admin(stack):
    def call(method: str, path: str, token: str | None = TOKEN, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, stack["base_url"] + "/admin" + path, headers=headers, timeout=60, **kwargs)

    return call


def audit_of(admin, target: str, **query) -> list[dict]:
    answer = admin("GET", "/audit", params={"target": target, **query})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["entries"]


def test_an_api_key_made_over_the_admin_api_works_is_listed_without_its_secret_and_is_refused_once_revoked(stack, admin):
    advertiser = "adv_" + secrets.token_hex(4)
    created = admin("POST", "/api-keys", json={"advertiser_id": advertiser, "name": "dashboard"})
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    assert key["api_key"].startswith("mbsk_") and (key["advertiser_id"], key["name"]) == (advertiser, "dashboard")
    buyer = {"Authorization": f"Bearer {key['api_key']}"}
    assert requests.get(stack["base_url"] + "/api/v2/buyer/campaigns", headers=buyer, timeout=10).status_code == 200

    listed = admin("GET", "/api-keys", params={"advertiser_id": advertiser})
    assert listed.status_code == 200 and key["api_key"] not in listed.text
    [row] = listed.json()["data"]
    assert (row["id"], row["name"], row["revoked_at"]) == (key["key_id"], "dashboard", None)
    assert set(row) == {"id", "advertiser_id", "name", "created_at", "revoked_at"}

    revoked = admin("POST", f"/api-keys/{key['key_id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    refused = requests.get(stack["base_url"] + "/api/v2/buyer/campaigns", headers=buyer, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"
    [row] = admin("GET", "/api-keys", params={"advertiser_id": advertiser}).json()["data"]
    assert row["revoked_at"] is not None
    assert admin("GET", "/api-keys", params={"advertiser_id": advertiser, "include_revoked": "false"}).json()["data"] == []

    entries = audit_of(admin, f"api_key:{key['key_id']}")
    assert [(e["action"], e["actor"]) for e in entries] == [("api_key.revoke", ADMIN_ACTOR), ("api_key.create", ADMIN_ACTOR)]
    assert entries[1]["change"] == {"advertiser_id": advertiser, "name": "dashboard"}
    assert key["api_key"] not in json.dumps(entries)


def test_every_change_to_an_agent_is_audited_with_its_actor_and_without_secrets(stack, admin, db, capsys):
    agent_id = "seller_" + secrets.token_hex(3)
    secret, token, new_token = (secrets.token_urlsafe(32) for _ in range(3))
    registered = admin("POST", "/agents", json={"id": agent_id, "endpoint": "http://127.0.0.1:9/mcp",
                                                "secret": secret, "auth_token": token})
    assert registered.status_code == 201, registered.text
    first = registered.json()["data"]["credential_id"]
    assert admin("PUT", f"/agents/{agent_id}/auth", json={"auth_token": new_token}).status_code == 204
    added = admin("POST", f"/agents/{agent_id}/credentials", json={})
    assert added.status_code == 201, added.text
    second, second_secret = added.json()["data"]["credential_id"], added.json()["data"]["secret"]
    assert admin("POST", f"/agents/{agent_id}/credentials/{first}/retire").status_code == 200
    # the CLI, in this process: the same services, audited as the OS user
    assert cli.main(["agents", "retire-secret", agent_id, str(second)]) == 0
    assert cli.main(["agents", "accounts", agent_id, "--advertiser", "adv_acme", "--account", "acc_1"]) == 0
    capsys.readouterr()

    entries = audit_of(admin, f"agent:{agent_id}")
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("agent.set_account", CLI_ACTOR), ("agent.retire_secret", CLI_ACTOR), ("agent.retire_secret", ADMIN_ACTOR),
        ("agent.add_secret", ADMIN_ACTOR), ("agent.set_auth", ADMIN_ACTOR), ("agent.register", ADMIN_ACTOR)]
    register = entries[-1]["change"]
    assert (register["endpoint"], register["scheme"], register["credential_id"]) == ("http://127.0.0.1:9/mcp", "hmac-sha256", first)
    assert (register["secret"], register["auth_token"]) == (True, True)  # that they were set, never what
    assert entries[-2]["change"] == {"auth_token": True, "auth_header": "x-adcp-auth"}
    assert entries[-3]["change"] == {"credential_id": second, "secret": True}
    assert [e["change"] for e in entries[:3]] == [{"advertiser_id": "adv_acme", "account_id": "acc_1"},
                                                  {"credential_id": second}, {"credential_id": first}]
    # no secret anywhere in the table, whatever the query
    for value in (secret, token, new_token, second_secret):
        assert not db("SELECT id FROM admin_audit WHERE strpos(admin_audit::text, %s) > 0", (value,))

    # filters and the cursor: newest first, two at a time
    page = admin("GET", "/audit", params={"target": f"agent:{agent_id}", "limit": 2}).json()["data"]
    assert [e["id"] for e in page["entries"]] == [e["id"] for e in entries[:2]] and page["next_after"] == entries[1]["id"]
    page = admin("GET", "/audit", params={"target": agent_id, "limit": 2, "after": page["next_after"]}).json()["data"]
    assert [e["id"] for e in page["entries"]] == [e["id"] for e in entries[2:4]]
    last = admin("GET", "/audit", params={"target": agent_id, "after": entries[4]["id"]}).json()["data"]
    assert [e["id"] for e in last["entries"]] == [entries[5]["id"]] and last["next_after"] is None
    assert [e["id"] for e in audit_of(admin, agent_id, action="agent.retire_secret")] == [e["id"] for e in entries[1:3]]
    assert [e["id"] for e in audit_of(admin, agent_id, actor=CLI_ACTOR)] == [e["id"] for e in entries[:2]]
    # and from the CLI
    assert cli.main(["audit", "list", "--target", f"agent:{agent_id}", "--limit", "1"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == entries[0]["id"]


def test_a_disabled_agent_is_refused_everywhere_until_enabled(stack, admin, make_agent, buyer):
    agent = make_agent()
    client = buyer()

    def post() -> requests.Response:
        return agent.post(json.dumps(task_payload("sa_" + secrets.token_hex(3), "active")).encode())

    assert post().status_code == 202
    disabled = admin("POST", f"/agents/{agent.agent_id}/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["data"]["disabled"] is True and disabled.json()["data"]["changed"] is True
    assert post().status_code == 404  # the web kept the agent's credentials: the disable dropped them
    again = admin("POST", f"/agents/{agent.agent_id}/disable").json()["data"]
    assert again["changed"] is False
    [listed] = [a for a in admin("GET", "/agents").json()["data"] if a["id"] == agent.agent_id]
    assert listed["disabled_at"] is not None
    # nor does it take a new campaign
    refused = client.post("/campaigns", json=campaign_body(client.advertiser_id, [agent.agent_id]))
    assert refused.status_code == 422 and "products.0.salesAgentId" in refused.json()["error"]["details"]["fields"]

    assert admin("POST", f"/agents/{agent.agent_id}/enable").json()["data"]["disabled"] is False
    assert post().status_code == 202
    assert client.post("/campaigns", json=campaign_body(client.advertiser_id, [agent.agent_id])).status_code == 201
    # a repeated disable changed nothing, so it is not audited
    assert [e["action"] for e in audit_of(admin, f"agent:{agent.agent_id}")] == ["agent.enable", "agent.disable"]
    assert admin("POST", "/agents/agent_nobody/disable").status_code == 404


def test_an_rfc9421_agents_jwks_is_read_again_over_the_admin_api(stack, admin, make_signed_agent, jwks_server):
    old, new = SigningKey.generate(), SigningKey.generate()
    agent = make_signed_agent(old)
    jwks_server.publish(agent.agent_id, [new])

    refreshed = admin("POST", f"/agents/{agent.agent_id}/keys/refresh")

    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["data"] == {"agent_id": agent.agent_id, "key_ids": [new.kid], "retired": [old.kid]}
    [entry, registered] = audit_of(admin, f"agent:{agent.agent_id}")
    assert (entry["action"], entry["actor"], entry["change"]) == (
        "agent.refresh_keys", ADMIN_ACTOR, {"key_ids": [new.kid], "retired": [old.kid]})
    assert (registered["action"], registered["actor"]) == ("agent.register", CLI_ACTOR)
    # an HMAC agent has no JWKS: a clear refusal
    hmac_agent = admin("POST", "/agents", json={"id": "seller_" + secrets.token_hex(3), "endpoint": "http://127.0.0.1:9/mcp"})
    conflict = admin("POST", f"/agents/{hmac_agent.json()['data']['agent_id']}/keys/refresh")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "CONFLICT"


def test_a_sellers_catalogue_is_read_again_over_the_admin_api(stack, admin, tmp_path_factory):
    sim = start_simulator(tmp_path_factory.mktemp("sim"), {"sima_polite": {}}, name="sim-admin")
    try:
        assert admin("POST", "/agents", json={"id": "sima_polite", "endpoint": sim.mcp["sima_polite"]}).status_code == 201

        read = admin("POST", "/agents/sima_polite/products/refresh")

        assert read.status_code == 200, read.text
        data = read.json()["data"]
        assert data["fetched_at"] is not None and data["error"] is None and data["product_ids"] == []
        assert admin("POST", "/agents/agent_nobody/products/refresh").status_code == 404
    finally:
        sim.proc.stop()


@pytest.mark.parametrize("token", [None, "a-buyer-api-key", TOKEN[:-1] + "x"])
def test_without_the_admin_token_nothing_is_done(stack, admin, db, api_key, token):
    token = api_key("adv_intruder") if token == "a-buyer-api-key" else token
    counts = row_counter(db)
    before = counts()
    for method, path, body in (("POST", "/api-keys", {"advertiser_id": "adv_intruder"}), ("GET", "/api-keys", None),
                               ("GET", "/audit", None), ("POST", "/agents/agent_nobody/disable", None)):
        answer = admin(method, path, token=token, json=body)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "UNAUTHORIZED", (path, answer.text)
    assert counts() == before


@pytest.mark.parametrize("method, path, body, status, field", [
    ("POST", "/api-keys", {}, 422, "advertiser_id"),
    ("POST", "/api-keys", {"advertiser_id": "adv x"}, 422, "advertiser_id"),
    ("POST", "/api-keys", {"advertiser_id": "adv_ok", "name": "a\nb"}, 422, "name"),
    ("POST", "/api-keys", {"advertiser_id": "adv_ok", "api_key": "mbsk_mine"}, 422, "api_key"),
    ("POST", "/api-keys", b"{not json", 400, None),
    ("POST", "/api-keys/key_nothing/revoke", None, 404, None),
    ("POST", "/agents/agent_nobody/credentials", {}, 404, None),
    ("POST", "/agents/{agent}/credentials", {"secret": "short"}, 422, "secret"),
    ("POST", "/agents/{agent}/credentials", {"secret": "x" * 40, "kind": "jwk"}, 422, "kind"),
    ("GET", "/audit?action=agent.explode", None, 422, "action"),
    ("GET", "/audit?after=0", None, 422, "after"),
    ("GET", "/audit?target=agent:a%20b", None, 422, "target"),
])
def test_bad_input_is_a_clear_refusal_that_changes_and_audits_nothing(stack, admin, db, make_agent,
                                                                      method, path, body, status, field):
    path = path.replace("{agent}", make_agent().agent_id)
    counts = row_counter(db)
    before = counts()
    kwargs = {"data": body, "headers": {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}} \
        if isinstance(body, bytes) else {"json": body}
    if isinstance(body, bytes):
        answer = requests.request(method, stack["base_url"] + "/admin" + path, timeout=30, **kwargs)
    else:
        answer = admin(method, path, **kwargs)

    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and answer.json()["data"] is None
    if field:
        assert error.get("field") == field, error
    assert counts() == before


def test_a_disabled_agents_buys_are_not_polled_until_it_is_enabled(stack, admin, make_agent, make_campaign, db):
    agent = make_agent()  # its endpoint answers nothing: a poll claims the buy, then backs off
    _, [buy_id] = make_campaign([(agent, "sa_" + secrets.token_hex(3), "ACTIVE")])
    assert admin("POST", f"/agents/{agent.agent_id}/disable").status_code == 200
    db("UPDATE media_buys SET poll_due_at = now() - interval '1 hour' WHERE id = %s", (buy_id,))
    [due] = db("SELECT poll_due_at FROM media_buys WHERE id = %s", (buy_id,))

    time.sleep(4)  # beat sweeps every second in the tests
    assert db("SELECT poll_due_at FROM media_buys WHERE id = %s", (buy_id,)) == [due]

    assert admin("POST", f"/agents/{agent.agent_id}/enable").status_code == 200
    deadline = time.monotonic() + 20
    while db("SELECT poll_due_at FROM media_buys WHERE id = %s", (buy_id,)) == [due] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert db("SELECT poll_due_at FROM media_buys WHERE id = %s", (buy_id,)) != [due]
