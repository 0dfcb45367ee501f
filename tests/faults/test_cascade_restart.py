"""Scenario 8 (issue 5): a worker restart during a cascade — the cascade completes, each agent call
idempotent.

A campaign over two simulated agents is executed and paused; the agents apply update_media_buy at once
but answer it late (`update_delay_seconds`), and while every answer is still owed the whole worker
running the pause cascade is SIGKILLed (its process group) and a new one started. Nobody acknowledged
the lost jobs, so beat's cascade sweep starts them again once their items have been quiet for
MEDIABUY_CASCADE_STALE_AFTER_SECONDS (16 s in tests/conftest.py); the new worker sends the same
requests under the same idempotency keys, and the agents answer them from their record
(GET /_sim/updates) instead of applying them twice.

The session's worker is stopped (SIGSTOP) meanwhile, so that only the worker the test kills, then its
successor, run the cascade.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from mediabuy_sync.store import agents as agent_store
from mediabuy_sync.store import api_keys
from mediabuy_sync.store.db import transaction
from support.buyer import API
from support.sim import start_simulator
from support.stack import pause_between_transactions, signal_group, wait_until
from support.stream import report

SIM_AGENTS = ("cr_a", "cr_b")
UPDATE_DELAY_SECONDS = 8.0  # below the tests' 10 s call timeout: the answer would come, were the worker alive
FLIGHT_START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)  # live at once
FLIGHT_END = FLIGHT_START + timedelta(hours=3)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")



@pytest.fixture(scope="module")
def setting(stack, extra_worker, tmp_path_factory):
    """The simulator and the first worker, started side by side (each loads the ADCP SDK), the
    session's worker stopped; our two agents registered (HMAC and Bearer webhooks)."""
    started: dict = {}

    def first_worker():
        try:
            started["worker"] = extra_worker("worker-cascade-1")
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            started["error"] = exc

    pause_between_transactions([stack["worker"]], stack["env"]["DATABASE_URL"])
    try:
        thread = threading.Thread(target=first_worker)
        thread.start()
        sim = start_simulator(tmp_path_factory.mktemp("cascade-restart"), {a: {} for a in SIM_AGENTS},
                              name="sim-cascade-restart")
        thread.join()
        if "error" in started:
            raise started["error"]
        suffix = secrets.token_hex(3)
        ids = {f"cr_hmac_{suffix}": ("cr_a", "hmac-sha256"), f"cr_bearer_{suffix}": ("cr_b", "bearer")}
        with transaction() as conn:
            for agent_id, (sim_agent, scheme) in ids.items():
                agent_store.add_agent(conn, agent_id, agent_id, sim.mcp[sim_agent], scheme)
                agent_store.add_secret(conn, agent_id, scheme, secrets.token_hex(24))
            key = api_keys.create_key(conn, "adv_cascade_restart")[1]
        yield {"sim": sim, "agents": {a: s for a, (s, _) in ids.items()}, "key": key,
               "worker": started["worker"]}
        sim.proc.stop()
    finally:
        signal_group(stack["worker"], signal.SIGCONT)


def test_a_worker_killed_mid_cascade_the_cascade_completes_and_each_agent_call_applies_once(
        stack, extra_worker, setting):
    sim, sim_of, first = setting["sim"], setting["agents"], setting["worker"]
    headers = {"Authorization": f"Bearer {setting['key']}"}

    def call(method: str, path: str, body=None) -> requests.Response:
        return requests.request(method, stack["base_url"] + API + path, json=body, headers=headers, timeout=60)

    def campaign() -> dict:
        answer = call("GET", f"/campaigns/{campaign_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def sim_get(agent_id: str, path: str) -> dict:
        return requests.get(f"{sim.base[sim_of[agent_id]]}/_sim/{path}", timeout=5).json()

    started = time.monotonic()
    halfway = FLIGHT_START + (FLIGHT_END - FLIGHT_START) / 2
    periods = [{"label": "first half", "startTime": _iso(FLIGHT_START), "endTime": _iso(halfway)},
               {"label": "second half", "startTime": _iso(halfway), "endTime": _iso(FLIGHT_END)}]
    # one buy per agent, two packages each (one per pacing period)
    products = [{"salesAgentId": a, "productId": "display_ros", "budget": 2000, "formats": ["display_300x250"],
                 "pricingOptionId": "cpm_fixed", "pacingPeriods": periods} for a in sim_of]
    created = call("POST", "/campaigns", {
        "advertiserId": "adv_cascade_restart", "name": "Cascade restart",
        "flightDates": {"startDate": _iso(FLIGHT_START), "endDate": _iso(FLIGHT_END)},
        "budget": {"total": 4000, "currency": "USD"}, "products": products,
        "creatives": [{"creativeId": "cr_banner", "format": "display_300x250"}]})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["data"]["campaignId"]
    executed = call("POST", f"/campaigns/{campaign_id}/execute")
    assert executed.status_code == 200 and executed.json()["data"]["success"], executed.text
    wait_until(lambda: [b["status"] for b in campaign()["mediaBuys"]] == ["ACTIVE", "ACTIVE"], 60, 0.2,
               "both buys ACTIVE")
    buys = {b["salesAgentId"]: b for b in campaign()["mediaBuys"]}

    # the agents apply each update at once and answer it late; the pause goes out meanwhile
    for sim_agent in SIM_AGENTS:
        requests.post(f"{sim.base[sim_agent]}/_sim/knobs", json={"update_delay_seconds": UPDATE_DELAY_SECONDS},
                      timeout=5).raise_for_status()
    paused: dict = {}
    pause = threading.Thread(target=lambda: paused.update(answer=call("POST", f"/campaigns/{campaign_id}/pause")))
    pause.start()
    wait_until(lambda: all(sim_get(a, f"updates?media_buy_id={b['adcpMediaBuyId']}")["updates"]
                           for a, b in buys.items()), 60, 0.05, "both agents to apply the pause")
    signal_group(first, signal.SIGKILL)  # the whole worker: parent and pool, mid-call
    first.popen.wait()
    killed_at = time.monotonic()
    first.stop()  # already dead: closes its log
    cut_short = campaign()["cascades"][0]
    assert (cut_short["kind"], cut_short["state"], cut_short["pending"]) == ("pause", "running", 2), cut_short
    for sim_agent in SIM_AGENTS:  # the retried calls need not be slow
        knobs = requests.post(f"{sim.base[sim_agent]}/_sim/knobs", json={"update_delay_seconds": 0}, timeout=5)
        knobs.raise_for_status()

    extra_worker("worker-cascade-2")
    second_ready = time.monotonic() - killed_at
    cascade = wait_until(lambda: (c := campaign()["cascades"][0])["state"] != "running" and c, 120, 0.2,
                         "the pause cascade to finish")
    completed_after_kill = time.monotonic() - killed_at
    pause.join(60)
    assert (cascade["kind"], cascade["state"], cascade["total"], cascade["succeeded"], cascade["failed"],
            cascade["pending"]) == ("pause", "done", 2, 2, 0, 0), cascade
    assert paused["answer"].status_code == 200, paused["answer"].text
    assert paused["answer"].json()["data"]["newStatus"] == "PAUSED"

    # every buy and each of its packages paused, at the agent and here
    for agent_id, buy in buys.items():
        at_agent = sim_get(agent_id, f"buys/{buy['adcpMediaBuyId']}")
        assert at_agent["status"] == "paused" and [p["paused"] for p in at_agent["packages"]] == [True, True], at_agent
    now = campaign()
    assert now["lifecycleStatus"] == "PAUSED"
    assert all(b["status"] == "PAUSED" and [p["status"] for p in b["packages"]] == ["paused", "paused"]
               for b in now["mediaBuys"]), now["mediaBuys"]

    # each idempotency key applied once at its agent; the restarted job's call answered from the record
    with transaction() as conn:
        items = {r["sales_agent_id"]: r for r in conn.execute(
            "SELECT sales_agent_id, attempts, request ->> 'idempotency_key' AS key FROM cascade_items"
            " WHERE cascade_id = %s", (cascade["cascadeId"],)).fetchall()}
    figures = {}
    for agent_id, buy in buys.items():
        [record] = sim_get(agent_id, f"updates?media_buy_id={buy['adcpMediaBuyId']}")["updates"]
        stats = sim_get(agent_id, "stats")
        assert record["idempotency_key"] == items[agent_id]["key"]
        assert record["replays"] >= 1, record  # the lost answer was asked for again …
        assert stats["updates"] == 1 and stats["updates_replayed"] == record["replays"], stats  # … and applied once
        history = sim_get(agent_id, f"buys/{buy['adcpMediaBuyId']}")["history"]
        assert [h["action"] for h in history].count("paused") == 1, history
        figures[sim_of[agent_id]] = {"attempts": items[agent_id]["attempts"], "replays": record["replays"]}
    report("cascade restart", {"agents": figures, "second_worker_ready_s": round(second_ready, 1),
                               "completed_after_kill_s": round(completed_after_kill, 1),
                               "seconds": round(time.monotonic() - started, 1)})
