"""Fallback polling, live media-buy-status and re-sync, against simulated sales agents over MCP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from mediabuy_sync.store import agents
from mediabuy_sync.store.db import transaction
from support.sim import create_request, set_status_silently, start_simulator, stats
from support.stack import wait_until

SECRET = "polling-tests-secret-0123456789abcdef"
AGENTS = {
    "simp_quiet": {"faults": {"webhook_drop_share": 1.0}},  # never sends a webhook: polling must do it all
    "simp_live": {},
    "simp_broken": {"faults": {"poll_http_error_share": 1.0}},  # every poll answers 503
    "simp_count_a": {},
    "simp_count_b": {},
    "simp_slow": {"faults": {"poll_slow_share": 1.0, "poll_slow_seconds": 4.0}},
    "simp_fast": {},
}


@pytest.fixture(scope="module")
def sim(stack, tmp_path_factory):
    simulator = start_simulator(tmp_path_factory.mktemp("sim"), AGENTS, name="sim-polling")
    with transaction() as conn:
        for agent_id, mcp in simulator.mcp.items():
            agents.add_agent(conn, agent_id, agent_id, mcp, "hmac-sha256")
            agents.add_secret(conn, agent_id, "hmac-sha256", SECRET)
    yield simulator
    simulator.proc.stop()


@pytest.fixture(scope="module")
def create_at_agent(sim, stack):
    """Create a real buy at a simulated agent (through our ADCP client); returns its media_buy_id."""
    from mediabuy_sync.adcp import client

    def create(agent_id: str) -> str:
        agent = client.Agent(agent_id, sim.mcp[agent_id])
        request = create_request(f"{stack['base_url']}/webhooks/adcp/{agent_id}", "op_poll",
                                 {"schemes": ["HMAC-SHA256"], "credentials": SECRET})
        answer = client.run(client.create_media_buy(agent, request, timeout=30))
        return answer["data"]["ext"]["media_buy_id"]

    return create


def buy(db, buy_id):
    return db("SELECT * FROM media_buys WHERE id = %s", (buy_id,))[0]


def poll_now(db, *buy_ids):
    db("UPDATE media_buys SET poll_due_at = now() WHERE id = ANY(%s)", (list(buy_ids),))


class Agent:  # what make_campaign needs of an agent
    def __init__(self, agent_id):
        self.agent_id = agent_id


def test_with_every_webhook_dropped_the_status_still_converges_by_polling(sim, create_at_agent, make_campaign, db):
    adcp_id = create_at_agent("simp_quiet")
    campaign_id, (buy_id,) = make_campaign([(Agent("simp_quiet"), adcp_id, "PENDING_APPROVAL")])
    wait_until(lambda: requests.get(f"{sim.base['simp_quiet']}/_sim/buys/{adcp_id}", timeout=5).json()["status"] == "active",
               10, what="the agent to approve the buy")
    assert stats(sim, "simp_quiet")["webhooks_dropped"] >= 1
    poll_now(db, buy_id)

    wait_until(lambda: buy(db, buy_id)["status"] == "ACTIVE", 15, what="polling to find the buy active")
    [change] = db("SELECT * FROM status_changes WHERE entity_id = %s", (buy_id,))
    assert (change["source"], change["to_status"], change["outcome"]) == ("poll", "ACTIVE", "applied")
    wait_until(lambda: db("SELECT surfaced_status FROM campaigns WHERE id = %s", (campaign_id,))[0]["surfaced_status"] == "ACTIVE")
    # polled again later, not on every sweep
    row = buy(db, buy_id)
    assert row["poll_due_at"].timestamp() - time.time() > 60


def test_a_silent_status_change_is_found_by_polling(sim, create_at_agent, make_campaign, db):
    adcp_id = create_at_agent("simp_live")
    _, (buy_id,) = make_campaign([(Agent("simp_live"), adcp_id, "PENDING_APPROVAL")])
    wait_until(lambda: buy(db, buy_id)["status"] == "ACTIVE", 15, what="the webhook to make it active")

    set_status_silently(sim, "simp_live", adcp_id, "paused")
    time.sleep(1.5)
    assert buy(db, buy_id)["status"] == "ACTIVE"  # no webhook came
    poll_now(db, buy_id)

    wait_until(lambda: buy(db, buy_id)["status"] == "PAUSED", 15, what="polling to find the buy paused")
    sources = [r["source"] for r in db("SELECT source FROM status_changes WHERE entity_id = %s AND outcome = 'applied' ORDER BY id", (buy_id,))]
    assert sources[-1] == "poll"


def test_one_sweep_calls_each_agent_once_per_page(sim, make_campaign, db):
    # 150 buys at one agent (two pages of 100) and 50 at another (one page)
    _, a_ids = make_campaign([(Agent("simp_count_a"), f"unknown_a_{i}", "ACTIVE") for i in range(150)])
    _, b_ids = make_campaign([(Agent("simp_count_b"), f"unknown_b_{i}", "ACTIVE") for i in range(50)])
    before = {a: stats(sim, a).get("polls_get_media_buys", 0) for a in ("simp_count_a", "simp_count_b")}

    def calls():
        return {a: stats(sim, a).get("polls_get_media_buys", 0) - before[a] for a in before}

    poll_now(db, *a_ids, *b_ids)
    wait_until(lambda: calls()["simp_count_a"] >= 2 and calls()["simp_count_b"] >= 1, 40, what="the polls")
    time.sleep(2.5)  # two more sweeps: nothing else is due, so nothing more is asked

    assert calls() == {"simp_count_a": 2, "simp_count_b": 1}
    # the agent knows none of these buys: each is put off to the backstop interval, not polled on every sweep
    assert db("SELECT count(*) AS n FROM media_buys WHERE id = ANY(%s) AND poll_due_at > now() + interval '60 s'",
              (a_ids + b_ids,))[0]["n"] == 200


def test_a_slow_agent_does_not_hold_back_the_others_polled_with_it(sim, make_campaign, db):
    # one sweep, one poll task for both agents (MEDIABUY_POLL_AGENTS_PER_TASK): they are asked at once
    _, slow_ids = make_campaign([(Agent("simp_slow"), f"unknown_s_{i}", "ACTIVE") for i in range(3)])
    _, fast_ids = make_campaign([(Agent("simp_fast"), f"unknown_f_{i}", "ACTIVE") for i in range(3)])
    poll_now(db, *slow_ids, *fast_ids)

    def answered(agent_id):  # the poll's answer committed
        return db("SELECT last_poll_at FROM sales_agents WHERE id = %s", (agent_id,))[0]["last_poll_at"] is not None

    wait_until(lambda: stats(sim, "simp_slow").get("polls_slowed", 0) == 1, 15, what="the slow agent's call")
    wait_until(lambda: answered("simp_fast"), 3, what="the fast agent's answer while the slow call is open")
    assert stats(sim, "simp_slow").get("polls_served", 0) == 0  # the slow call is still open (4 s)
    assert not answered("simp_slow")
    wait_until(lambda: answered("simp_slow"), 15, what="the slow agent's answer")
    assert stats(sim, "simp_slow").get("polls_get_media_buys") == 1
    assert stats(sim, "simp_fast").get("polls_get_media_buys") == 1


def test_a_failing_agent_backs_off_with_its_buys(sim, create_at_agent, make_campaign, db):
    _, (buy_id,) = make_campaign([(Agent("simp_broken"), "sb_1", "ACTIVE")])
    poll_now(db, buy_id)

    agent = wait_until(lambda: (r := db("SELECT * FROM sales_agents WHERE id = 'simp_broken'")[0])["poll_failures"] >= 1 and r,
                       15, what="a failed poll")
    assert agent["poll_backoff_until"] is not None and agent["last_poll_error"].startswith("unreachable") or "agent_error" in agent["last_poll_error"]
    assert buy(db, buy_id)["poll_due_at"] == agent["poll_backoff_until"]
    assert buy(db, buy_id)["status"] == "ACTIVE"


def test_media_buy_status_queries_every_agent_now_with_partial_errors(sim, create_at_agent, make_campaign, db, api_key, stack):
    adcp_id = create_at_agent("simp_quiet")
    wait_until(lambda: requests.get(f"{sim.base['simp_quiet']}/_sim/buys/{adcp_id}", timeout=5).json()["status"] == "active", 10)
    campaign_id, (good_id, broken_id, done_id) = make_campaign([
        (Agent("simp_quiet"), adcp_id, "PENDING_APPROVAL"),
        (Agent("simp_broken"), "sb_status", "ACTIVE"),
        (Agent("simp_live"), "sl_done", "COMPLETED"),
    ])
    db("UPDATE sales_agents SET poll_backoff_until = NULL WHERE id = 'simp_broken'")  # a live query asks anyway
    headers = {"Authorization": f"Bearer {api_key()}"}
    url = f"{stack['base_url']}/api/v2/buyer/campaigns/{campaign_id}/media-buy-status"

    answer = requests.get(url, headers=headers, timeout=30)

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["campaign_id"] == campaign_id and data["agents_queried"] == 2  # the COMPLETED buy is not polled
    entries = {e["media_buy_id"]: e for e in data["media_buys"]}
    assert entries[good_id]["internal_status"] == "ACTIVE" and entries[good_id]["previous_internal_status"] == "PENDING_APPROVAL"
    assert entries[good_id]["adcp_status"] == "active" and entries[good_id]["updated"] is True
    assert entries[done_id]["updated"] is False
    assert [e["media_buy_id"] for e in data["errors"]] == [broken_id]
    assert buy(db, good_id)["status"] == "ACTIVE"  # persisted

    again = requests.get(url, headers=headers, timeout=20)
    assert again.status_code == 429
    assert 1 <= int(again.headers["Retry-After"]) <= 30
    assert again.json()["error"]["code"] == "RATE_LIMITED"

    other = requests.get(url, headers={"Authorization": f"Bearer {api_key('adv_other')}"}, timeout=20)
    assert other.status_code == 404


def test_resync_from_the_cli_and_the_admin_api(sim, create_at_agent, make_campaign, db, stack):
    adcp_id = create_at_agent("simp_quiet")
    wait_until(lambda: requests.get(f"{sim.base['simp_quiet']}/_sim/buys/{adcp_id}", timeout=5).json()["status"] == "active", 10)
    campaign_id, (buy_id,) = make_campaign([(Agent("simp_quiet"), adcp_id, "PENDING_APPROVAL")])

    run = subprocess.run([sys.executable, "-m", "mediabuy_sync.cli", "resync", "campaign", campaign_id, "--timeout", "30"],
                         env=stack["env"], capture_output=True, text=True, timeout=60)

    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[0].endswith("1 media buys to ask about")
    summary = json.loads(lines[-1])
    assert (summary["media_buys"], summary["updated"], summary["errors"]) == (1, 1, [])
    assert buy(db, buy_id)["status"] == "ACTIVE"
    assert db("SELECT source FROM status_changes WHERE entity_id = %s", (buy_id,))[0]["source"] == "admin"

    admin = {"Authorization": f"Bearer {os.environ['MEDIABUY_ADMIN_TOKEN']}"}
    started = requests.post(f"{stack['base_url']}/admin/resync/agents/simp_quiet", headers=admin, timeout=10)
    assert started.status_code == 202, started.text
    run_id = started.json()["data"]["run_id"]
    finished = wait_until(lambda: (r := requests.get(f"{stack['base_url']}/admin/sync-runs/{run_id}", headers=admin, timeout=5)
                                   .json()["data"])["state"] == "done" and r, 30, what="the admin re-sync")
    assert finished["total"] >= 1 and finished["result"]["errors"] == []

    for token in (None, "wrong"):
        denied = requests.post(f"{stack['base_url']}/admin/resync/agents/simp_quiet",
                               headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=5)
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_live_buy_whose_delivery_went_quiet_has_its_delivery_read(sim, create_at_agent, make_campaign, db):
    adcp_id = create_at_agent("simp_live")
    _, (buy_id,) = make_campaign([(Agent("simp_live"), adcp_id, "PENDING_APPROVAL")])
    wait_until(lambda: requests.get(f"{sim.base['simp_live']}/_sim/buys/{adcp_id}", timeout=5).json()["status"] == "active",
               10, what="the agent to approve the buy")
    wait_until(lambda: buy(db, buy_id)["status"] == "ACTIVE", 15, what="its approval webhook applied")
    before = stats(sim, "simp_live").get("polls_get_media_buy_delivery", 0)
    # submitted three hours ago, and no delivery report since: quiet past MEDIABUY_DELIVERY_QUIET_SECONDS (2 h)
    db("UPDATE media_buys SET submitted_at = now() - interval '3 hours', poll_due_at = now() WHERE id = %s", (buy_id,))

    wait_until(lambda: stats(sim, "simp_live").get("polls_get_media_buy_delivery", 0) == before + 1, 15,
               what="the delivery backstop's get_media_buy_delivery")
    assert buy(db, buy_id)["delivery_polled_at"] is not None
    read_at = buy(db, buy_id)["delivery_polled_at"]
    poll_now(db, buy_id)  # the next poll within the quiet period reads no delivery again
    wait_until(lambda: buy(db, buy_id)["poll_due_at"] is not None and stats(sim, "simp_live")["polls_get_media_buys"] >= 2,
               15, what="another poll")
    assert buy(db, buy_id)["delivery_polled_at"] == read_at
    assert stats(sim, "simp_live").get("polls_get_media_buy_delivery", 0) == before + 1
