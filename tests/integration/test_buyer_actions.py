"""Execute, update (PUT), pause/reactivate and the cascades, through the buyer API, against simulated
sales agents and the real web, worker and beat.

Three simulated agents, registered here with the three webhook schemes (HMAC-SHA256, Bearer, RFC 9421
with the agent's JWKS), post their webhooks to the stack's web; a fourth registration points at a
port nobody listens on until a test repairs it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import requests

from mediabuy_sync.adcp.jwks import fetch_jwks
from mediabuy_sync.store import agents as agent_store
from mediabuy_sync.store.db import transaction
from support.buyer import API, iso
from support.buyer import CampaignClient as Client  # by this name test_buyer_reads and others import it from here
from support.sim import BIN, FAST
from support.stack import Process, free_port, free_ports, wait_until

SIM_AGENTS = ("act_a", "act_b", "act_c")
FIGURES: dict[str, float] = {}
# One flight for every campaign of the module: started (so buys go live at once), hours to run.
FLIGHT_START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
FLIGHT_END = FLIGHT_START + timedelta(hours=3)


@pytest.fixture(scope="module")
def sim_process(tmp_path_factory):
    """The simulator, started first: it loads the SDK (~20 s) while the stack starts."""
    ports = dict(zip(SIM_AGENTS, free_ports(len(SIM_AGENTS))))
    config = {"seed": 5, "defaults": FAST, "agents": [{"id": a, "port": p} for a, p in ports.items()]}
    path = tmp_path_factory.mktemp("actions") / "sim-actions.json"
    path.write_text(json.dumps(config))
    proc = Process("sim-actions", [str(BIN / "mediabuy-sync"), "simulate-agent", "--config", str(path)],
                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    yield SimpleNamespace(proc=proc, base={a: f"http://127.0.0.1:{p}" for a, p in ports.items()})
    proc.stop()


@pytest.fixture(scope="module")
def agents(sim_process, stack):
    """Our registrations: hmac → act_a, bearer → act_b, rfc9421 → act_c (its JWKS), broken → nowhere."""
    sim = sim_process
    wait_until(lambda: "ready:" in sim.proc.log() or sim.proc.popen.poll() is not None, 120, 0.2, "the simulator")
    assert sim.proc.popen.poll() is None, sim.proc.log()[-3000:]
    suffix = secrets.token_hex(3)
    ids = SimpleNamespace(hmac=f"act_hmac_{suffix}", bearer=f"act_bearer_{suffix}", rfc=f"act_rfc_{suffix}",
                          broken=f"act_broken_{suffix}", secret=secrets.token_hex(24), token=secrets.token_hex(24))
    ids.sim = {ids.hmac: "act_a", ids.bearer: "act_b", ids.rfc: "act_c", ids.broken: "act_a"}
    ids.base = sim.base
    ids.nowhere = f"http://127.0.0.1:{free_port()}/mcp"
    jwks_uri = f"{sim.base['act_c']}/.well-known/jwks.json"
    with transaction() as conn:
        agent_store.add_agent(conn, ids.hmac, ids.hmac, f"{sim.base['act_a']}/mcp", "hmac-sha256")
        agent_store.add_secret(conn, ids.hmac, "hmac-sha256", ids.secret)
        agent_store.add_agent(conn, ids.bearer, ids.bearer, f"{sim.base['act_b']}/mcp", "bearer")
        agent_store.add_secret(conn, ids.bearer, "bearer", ids.token)
        agent_store.add_agent(conn, ids.rfc, ids.rfc, f"{sim.base['act_c']}/mcp", "rfc9421", jwks_uri=jwks_uri)
        agent_store.store_jwks(conn, ids.rfc, fetch_jwks(jwks_uri, 5, allow_http=True))
        agent_store.add_agent(conn, ids.broken, ids.broken, ids.nowhere, "hmac-sha256")
        agent_store.add_secret(conn, ids.broken, "hmac-sha256", ids.secret)
    return ids


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    if FIGURES:
        print("\nbuyer actions:", ", ".join(f"{k} {v:.2f} s" for k, v in FIGURES.items()))


def set_endpoint(agent_id: str, uri: str) -> None:
    with transaction() as conn:
        conn.execute("UPDATE sales_agents SET endpoint_uri = %s WHERE id = %s", (uri, agent_id))


# --- the buyer's side ----------------------------------------------------------------------------------


@pytest.fixture
def client(buyer):
    return Client(buyer())


def product(agent_id: str, product_id: str, budget: float, formats: list[str], periods: int = 0) -> dict:
    start, end = FLIGHT_START, FLIGHT_END
    out = {"salesAgentId": agent_id, "productId": product_id, "budget": budget, "formats": formats,
           "pricingOptionId": "cpm_fixed"}
    if periods:
        step = (end - start) / periods
        out["pacingPeriods"] = [{"label": f"part {i + 1}", "startTime": iso(start + step * i),
                                 "endTime": iso(start + step * (i + 1))} for i in range(periods)]
    return out


def create(client: Client, products: list[dict], creatives: list[dict], total: float | None = None, **extra) -> str:
    return client.create_campaign("Actions test", FLIGHT_START, FLIGHT_END, products, creatives, total, **extra)


def sim_buy(agents, agent_id: str, adcp_id: str) -> dict:
    return requests.get(f"{agents.base[agents.sim[agent_id]]}/_sim/buys/{adcp_id}", timeout=5).json()


def sim_stats(agents, sim_agent: str) -> dict:
    return requests.get(f"{agents.base[sim_agent]}/_sim/stats", timeout=5).json()


def all_active(client: Client, campaign_id: str, count: int) -> bool:
    buys = client.campaign(campaign_id)["mediaBuys"]
    return len(buys) == count and all(b["status"] == "ACTIVE" for b in buys)


def executed_and_active(client: Client, products: list[dict], creatives: list[dict], **extra) -> str:
    campaign_id = create(client, products, creatives, **extra)
    answer = client.ok("POST", f"/campaigns/{campaign_id}/execute")
    assert answer["success"], answer
    wait_until(lambda: all_active(client, campaign_id, len({p["salesAgentId"] for p in products})), 20,
               what="the agents to approve the buys")
    return campaign_id


DISPLAY = {"creativeId": "cr_banner", "format": "display_300x250"}
VIDEO = {"creativeId": "cr_video", "format": "video_15s"}


# --- execute ------------------------------------------------------------------------------------------


def test_execute_with_one_agent_failing_then_re_execute_retries_only_that_buy(client, agents, stack, db):
    products = [product(agents.hmac, "display_ros", 3000, ["display_300x250"]),
                product(agents.bearer, "video_premium", 3000, ["video_15s"]),
                product(agents.rfc, "ctv_sports", 3000, ["video_15s"]),
                product(agents.broken, "audio_streaming", 1000, ["display_300x250"])]
    campaign_id = create(client, products, [DISPLAY, VIDEO])
    assert client.call("POST", f"/campaigns/{campaign_id}/execute", {"debug": True, "dryRun": True}).status_code == 422

    started = time.monotonic()
    answer = client.ok("POST", f"/campaigns/{campaign_id}/execute", {"debug": True})
    FIGURES["execute, 3 agents + 1 unreachable"] = time.monotonic() - started
    FIGURES["its cascade (cold worker)"] = _duration(answer["cascade"])

    assert (answer["previousStatus"], answer["newStatus"], answer["success"]) == ("DRAFT", "ACTIVE", False)
    [error] = answer["errors"]
    assert error["salesAgentId"] == agents.broken and error["message"].startswith("unreachable")
    debug = error["debug"]
    assert debug["request"]["packages"][0]["product_id"] == "audio_streaming"
    assert debug["request"]["push_notification_config"]["authentication"]["credentials"] == {
        "$credential": db("SELECT id FROM agent_credentials WHERE agent_id = %s", (agents.broken,))[0]["id"]}
    assert debug["response"]["kind"] == "unreachable" and debug["response"]["attempts"] == 3
    assert any("gave up after 3" in line for line in debug["debugLogs"]) and len(debug["debugLogs"]) >= 6
    assert agents.secret not in json.dumps(answer)
    assert answer["cascade"] | {"createdAt": None, "finishedAt": None} == {
        "cascadeId": answer["cascade"]["cascadeId"], "kind": "execute", "state": "failed", "total": 4,
        "succeeded": 3, "failed": 1, "pending": 0, "createdAt": None, "finishedAt": None}

    campaign = client.campaign(campaign_id)
    assert campaign["lifecycleStatus"] == "ACTIVE" and campaign["cascades"][0]["kind"] == "execute"
    buys = {b["salesAgentId"]: b for b in campaign["mediaBuys"]}
    assert buys[agents.broken]["status"] == "FAILED"
    assert all(buys[a]["status"] in ("PENDING_APPROVAL", "ACTIVE") for a in (agents.hmac, agents.bearer, agents.rfc))
    failed = db("SELECT last_error, adcp_task_id FROM media_buys WHERE id = %s", (buys[agents.broken]["mediaBuyId"],))[0]
    assert failed["last_error"]["kind"] == "unreachable" and failed["adcp_task_id"] is None
    # each agent got our webhook URL and its own scheme, and our media buy id as operation_id
    for agent_id, scheme in ((agents.hmac, "hmac-sha256"), (agents.bearer, "bearer"), (agents.rfc, "rfc9421")):
        at_agent = sim_buy(agents, agent_id, buys[agent_id]["adcpMediaBuyId"])
        assert at_agent["push"] == {"url": f"{stack['public_base_url']}/webhooks/adcp/{agent_id}",
                                    "operation_id": buys[agent_id]["mediaBuyId"], "scheme": scheme, "token": False}
        assert [p["budget"] for p in at_agent["packages"]] == [3000]

    creates_before = sim_stats(agents, "act_a").get("creates", 0)
    set_endpoint(agents.broken, f"{agents.base['act_a']}/mcp")
    again = client.ok("POST", f"/campaigns/{campaign_id}/execute")
    assert (again["previousStatus"], again["newStatus"], again["success"]) == ("ACTIVE", "ACTIVE", True)
    assert "errors" not in again and again["cascade"]["total"] == 1
    assert sim_stats(agents, "act_a").get("creates", 0) == creates_before + 1  # only the failed buy was sent again

    # the agents approve; their webhooks (three schemes) move every buy, and the surfaced status follows
    wait_until(lambda: all_active(client, campaign_id, 4), 20, what="webhooks to make every buy ACTIVE")
    wait_until(lambda: client.campaign(campaign_id)["mediaBuyStatus"]["surfacedStatus"] == "ACTIVE", 10,
               what="the campaign to surface ACTIVE")
    sources = db("SELECT DISTINCT sc.source FROM status_changes sc JOIN media_buys mb ON mb.id = sc.entity_id "
                 "WHERE mb.campaign_id = %s AND sc.outcome = 'applied'", (campaign_id,))
    assert {"api", "webhook"} <= {r["source"] for r in sources}
    # the agents' package ids, learnt from their completed creates
    assert all(p["adcpPackageId"] for b in client.campaign(campaign_id)["mediaBuys"] for p in b["packages"])

    # the job run again (a redelivery) sends nothing twice
    from mediabuy_sync.queue.app import make_celery
    from mediabuy_sync.queue.names import RUN_CASCADE_AGENT

    creates = sim_stats(agents, "act_b").get("creates", 0)
    make_celery().send_task(RUN_CASCADE_AGENT, args=[answer["cascade"]["cascadeId"], agents.bearer])
    time.sleep(1.0)
    assert sim_stats(agents, "act_b").get("creates", 0) == creates
    assert client.call("POST", "/campaigns/cmp_missing/execute").status_code == 404


def test_execute_of_three_agents_answers_within_the_deadline(client, agents):
    products = [product(a, "display_ros", 1000, ["display_300x250"], periods=2)
                for a in (agents.hmac, agents.bearer, agents.rfc)]
    campaign_id = create(client, products, [DISPLAY])
    started = time.monotonic()
    answer = client.ok("POST", f"/campaigns/{campaign_id}/execute")
    FIGURES["execute, 3 agents"] = elapsed = time.monotonic() - started
    FIGURES["its cascade"] = _duration(answer["cascade"])
    # every agent answered before the deadline (a worker process's first call to an agent costs seconds)
    assert answer["success"] and answer["cascade"]["succeeded"] == 3 and "pending" not in answer and elapsed < 20
    buys = client.buys(campaign_id)
    assert all(len(b["packages"]) == 2 and [p["budget"] for p in b["packages"]] == [500, 500] for b in buys.values())


# --- update --------------------------------------------------------------------------------------------


def test_lowering_the_total_scales_live_package_budgets_and_the_agent_gets_them(client, agents, db):
    budget = {"total": 50000, "currency": "USD", "dailyCap": 2000, "pacing": "ASAP"}
    campaign_id = executed_and_active(client, [product(agents.hmac, "display_ros", 30000, ["display_300x250"]),
                                               product(agents.hmac, "video_premium", 20000, ["video_15s"])], [DISPLAY],
                                      budget=budget)
    [buy] = client.buys(campaign_id).values()
    assert sorted(p["budget"] for p in buy["packages"]) == [20000, 30000]

    # a budget PUT changes only what it names: no currency needed, dailyCap and pacing kept
    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"budget": {"total": 40000}})
    assert client.campaign(campaign_id)["budget"] == {**budget, "total": 40000}
    # the kept daily cap must still fit: refused, nothing changed
    cascades = db("SELECT count(*) AS n FROM cascades WHERE campaign_id = %s", (campaign_id,))[0]["n"]
    refused = client.call("PUT", f"/campaigns/{campaign_id}", {"budget": {"total": 1000}})
    assert refused.status_code == 422 and "budget.total" in refused.json()["error"]["details"]["fields"], refused.text
    assert client.campaign(campaign_id)["budget"]["total"] == 40000
    assert db("SELECT count(*) AS n FROM cascades WHERE campaign_id = %s", (campaign_id,))[0]["n"] == cascades
    assert answer["success"] and [c["kind"] for c in answer["cascades"]] == ["update"]
    assert answer["mediaBuyResults"] == [{"mediaBuyId": buy["mediaBuyId"], "salesAgentId": agents.hmac,
                                          "previousStatus": "ACTIVE", "status": "ACTIVE", "success": True,
                                          "pending": False}]
    [buy] = client.buys(campaign_id).values()
    assert {p["productId"]: p["budget"] for p in buy["packages"]} == {"display_ros": 24000, "video_premium": 16000}
    at_agent = sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])
    assert {p["product_id"]: p["budget"] for p in at_agent["packages"]} == {"display_ros": 24000, "video_premium": 16000}

    # a named package budget wins, the others scale into what is left (40000 - 30000)
    display = next(p for p in buy["packages"] if p["productId"] == "display_ros")
    named = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": buy["mediaBuyId"], "packages": [{"packageId": display["packageId"], "budget": 30000}]}]})
    assert named["success"], named
    [buy] = client.buys(campaign_id).values()
    assert {p["productId"]: p["budget"] for p in buy["packages"]} == {"display_ros": 30000, "video_premium": 10000}
    at_agent = sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])
    assert {p["product_id"]: p["budget"] for p in at_agent["packages"]} == {"display_ros": 30000, "video_premium": 10000}
    # named ones alone over the total: INSUFFICIENT_MEDIA_BUDGET, nothing changed
    too_much = client.call("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": buy["mediaBuyId"], "packages": [{"packageId": display["packageId"], "budget": 40000.01}]}]})
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "INSUFFICIENT_MEDIA_BUDGET"
    assert {p["productId"]: p["budget"] for p in client.buys(campaign_id)[agents.hmac]["packages"]} == {
        "display_ros": 30000, "video_premium": 10000}


def test_creative_ids_rules_are_all_or_nothing_and_an_empty_list_clears(client, agents, db):
    campaign_id = executed_and_active(client, [product(agents.hmac, "display_ros", 1000, ["display_300x250"]),
                                               product(agents.bearer, "video_premium", 1000, ["video_15s"])],
                                      [DISPLAY, VIDEO])
    buys = client.buys(campaign_id)
    display, video = buys[agents.hmac], buys[agents.bearer]
    updates = sim_stats(agents, "act_a").get("updates", 0), sim_stats(agents, "act_b").get("updates", 0)

    bad = client.call("PUT", f"/campaigns/{campaign_id}", {"name": "renamed", "mediaBuys": [
        {"mediaBuyId": display["mediaBuyId"], "creative_ids": ["cr_unknown", "cr_video"]},
        {"mediaBuyId": video["mediaBuyId"], "action": "cancel", "creative_ids": ["cr_video"]},
        {"mediaBuyId": "mb_not_ours", "creative_ids": []},
    ]})
    assert bad.status_code == 422, bad.text
    fields = bad.json()["error"]["details"]["fields"]
    assert set(fields) == {"mediaBuys.0.creative_ids", "mediaBuys.1.creative_ids", "mediaBuys.2.mediaBuyId"}
    assert any("cr_unknown" in m for m in fields["mediaBuys.0.creative_ids"])
    assert any("cr_video" in m and "format" in m for m in fields["mediaBuys.0.creative_ids"])
    assert "Only valid with action 'update'" in fields["mediaBuys.1.creative_ids"][0]
    # nothing changed, nothing sent
    assert client.campaign(campaign_id)["name"] == "Actions test"
    assert {r["creative_ids"] for r in db("SELECT creative_ids FROM media_buys WHERE campaign_id = %s", (campaign_id,))} == {None}
    assert (sim_stats(agents, "act_a").get("updates", 0), sim_stats(agents, "act_b").get("updates", 0)) == updates

    cleared = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": display["mediaBuyId"], "creative_ids": []},
        {"mediaBuyId": video["mediaBuyId"], "creative_ids": ["cr_video"], "updated_reason": "pin the video"}]})
    assert cleared["success"] and len(cleared["mediaBuyResults"]) == 2
    rows = {r["id"]: r["creative_ids"] for r in db("SELECT id, creative_ids FROM media_buys WHERE campaign_id = %s",
                                                   (campaign_id,))}
    assert rows == {display["mediaBuyId"]: [], video["mediaBuyId"]: ["cr_video"]}
    history = sim_buy(agents, agents.hmac, display["adcpMediaBuyId"])["history"]
    assert any(h["action"] == "updated_packages" and "0 creatives" in h["summary"] for h in history)


def test_each_action_is_valid_only_in_its_statuses(api_key, make_agent, make_campaign, stack, db):
    agent = make_agent()
    campaign_id, (draft, active, completed, failed) = make_campaign(
        [(agent, None, "DRAFT"), (agent, "sa_act_2", "ACTIVE"), (agent, "sa_act_3", "COMPLETED"),
         (agent, None, "FAILED")], advertiser_id="adv_status")
    client = Client(SimpleNamespace(base_url=stack["base_url"], advertiser_id="adv_status", key=api_key("adv_status")))
    bad = client.call("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": draft, "action": "cancel"}, {"mediaBuyId": completed, "packages": []},
        {"mediaBuyId": failed, "action": "cancel", "reason": "x"}, {"mediaBuyId": active, "action": "delete"}]})
    assert bad.status_code == 422
    fields = bad.json()["error"]["details"]["fields"]
    assert "delete (archive) it instead" in fields["mediaBuys.0.action"][0]
    # a live buy's delete is valid (canceled at its agent, then archived): only the other three are refused
    assert set(fields) == {f"mediaBuys.{i}.action" for i in range(3)}

    goals = [{"kind": "metric", "metric": "clicks", "target": {"kind": "cost_per", "value": 1.5}}]
    # a goals change needs no confirmation field (the deprecated one is still accepted, and ignored)
    changed = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [{"mediaBuyId": draft, "optimization_goals": goals}]})
    assert db("SELECT optimization_goals FROM media_buys WHERE id = %s", (draft,))[0]["optimization_goals"] == goals
    assert changed["mediaBuyResults"][0]["success"]
    goals = [{"kind": "metric", "metric": "views"}]
    confirmed = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": draft, "optimization_goals": goals, "confirmOptimizationGoalsChange": False}]})
    assert confirmed["mediaBuyResults"] == [{"mediaBuyId": draft, "salesAgentId": agent.agent_id,
                                             "previousStatus": "DRAFT", "status": "DRAFT", "success": True}]
    assert db("SELECT optimization_goals FROM media_buys WHERE id = %s", (draft,))[0]["optimization_goals"] == goals

    deleted = client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": draft, "action": "delete"}, {"mediaBuyId": failed, "action": "delete"}]})
    assert {r["mediaBuyId"]: r["status"] for r in deleted["mediaBuyResults"]} == {draft: "ARCHIVED", failed: "ARCHIVED"}

    # the campaign's own status: pause from ACTIVE only, reactivate from PAUSED only, execute not once over
    assert client.call("POST", f"/campaigns/{campaign_id}/reactivate").status_code == 422
    db("UPDATE campaigns SET status = 'PAUSED' WHERE id = %s", (campaign_id,))
    assert client.call("POST", f"/campaigns/{campaign_id}/pause").status_code == 422
    for status in ("COMPLETED", "ARCHIVED"):
        db("UPDATE campaigns SET status = %s WHERE id = %s", (status, campaign_id))
        refused = client.call("POST", f"/campaigns/{campaign_id}/execute")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "VALIDATION_ERROR"
        assert client.call("PUT", f"/campaigns/{campaign_id}", {"name": "x"}).status_code == 422
    assert db("SELECT count(*) AS n FROM cascades WHERE campaign_id = %s", (campaign_id,))[0]["n"] == 0


# --- pause and reactivate -------------------------------------------------------------------------------


def test_pause_and_reactivate_reach_every_buy_and_package(client, agents):
    campaign_id = executed_and_active(
        client, [product(a, "display_ros", 2000, ["display_300x250"], periods=2) for a in (agents.hmac, agents.bearer, agents.rfc)],
        [DISPLAY])
    buys = client.buys(campaign_id)

    paused = client.ok("POST", f"/campaigns/{campaign_id}/pause")
    assert (paused["previousStatus"], paused["newStatus"], paused["totalMediaBuys"], paused["successCount"],
            paused["failureCount"]) == ("ACTIVE", "PAUSED", 3, 3, 0)
    FIGURES["pause cascade, 3 agents"] = _duration(paused["cascade"])
    for agent_id, buy in buys.items():
        at_agent = sim_buy(agents, agent_id, buy["adcpMediaBuyId"])
        assert at_agent["status"] == "paused" and [p["paused"] for p in at_agent["packages"]] == [True, True]
    campaign = client.campaign(campaign_id)
    assert campaign["lifecycleStatus"] == "PAUSED"
    assert all(b["status"] == "PAUSED" and [p["status"] for p in b["packages"]] == ["paused", "paused"]
               for b in campaign["mediaBuys"])
    assert campaign["cascades"][0] | {"createdAt": 0, "finishedAt": 0, "cascadeId": 0} == {
        "cascadeId": 0, "kind": "pause", "state": "done", "total": 3, "succeeded": 3, "failed": 0, "pending": 0,
        "createdAt": 0, "finishedAt": 0}
    assert client.call("POST", f"/campaigns/{campaign_id}/pause").status_code == 422

    resumed = client.ok("POST", f"/campaigns/{campaign_id}/reactivate")
    assert (resumed["newStatus"], resumed["successCount"]) == ("ACTIVE", 3)
    assert {r["previousStatus"] for r in resumed["mediaBuyResults"]} == {"PAUSED"}
    for agent_id, buy in buys.items():
        at_agent = sim_buy(agents, agent_id, buy["adcpMediaBuyId"])
        assert at_agent["status"] == "active" and [p["paused"] for p in at_agent["packages"]] == [False, False]

    # an agent that can't be reached: the others pause, the campaign is PAUSED anyway, the failure is named
    set_endpoint(agents.rfc, agents.nowhere)
    try:
        partly = client.ok("POST", f"/campaigns/{campaign_id}/pause")
    finally:
        set_endpoint(agents.rfc, f"{agents.base['act_c']}/mcp")
    assert (partly["newStatus"], partly["successCount"], partly["failureCount"]) == ("PAUSED", 2, 1)
    [failure] = [r for r in partly["mediaBuyResults"] if not r["success"]]
    assert failure["mediaBuyId"] == buys[agents.rfc]["mediaBuyId"] and failure["error"].startswith("unreachable")
    assert client.campaign(campaign_id)["lifecycleStatus"] == "PAUSED"


def _duration(cascade: dict) -> float:
    start, end = (datetime.fromisoformat(cascade[k]) for k in ("createdAt", "finishedAt"))
    return (end - start).total_seconds()


# --- the other cascades -----------------------------------------------------------------------------------


def test_a_manifest_change_reaches_exactly_the_buys_that_accept_the_format(client, agents):
    campaign_id = executed_and_active(client, [
        product(agents.hmac, "display_ros", 1000, ["display_300x250"]),
        product(agents.bearer, "video_premium", 1000, ["video_15s"]),
        product(agents.rfc, "ctv_sports", 1000, ["display_300x250", "video_15s"]),
    ], [DISPLAY])
    buys = client.buys(campaign_id)
    # the rfc agent's buy gets an override: the manifest no longer syncs to it
    client.ok("PUT", f"/campaigns/{campaign_id}", {"mediaBuys": [
        {"mediaBuyId": buys[agents.rfc]["mediaBuyId"], "creative_ids": ["cr_banner"]}]})
    syncs = {a: sim_stats(agents, a).get("creative_syncs", 0) for a in ("act_a", "act_b", "act_c")}

    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"creatives": [DISPLAY, VIDEO]})
    [cascade] = answer["cascades"]
    assert (cascade["kind"], cascade["total"], cascade["succeeded"]) == ("creatives", 1, 1)
    assert [r["mediaBuyId"] for r in answer["mediaBuyResults"]] == [buys[agents.bearer]["mediaBuyId"]]
    after = {a: sim_stats(agents, a).get("creative_syncs", 0) for a in ("act_a", "act_b", "act_c")}
    assert {a: after[a] - syncs[a] for a in after} == {"act_a": 0, "act_b": 1, "act_c": 0}
    history = sim_buy(agents, agents.bearer, buys[agents.bearer]["adcpMediaBuyId"])["history"]
    assert any(h["action"] == "creatives_assigned" for h in history)

    # dropping the banner reaches the display buy only (the video buy never had it)
    answer = client.ok("PUT", f"/campaigns/{campaign_id}", {"creatives": [VIDEO]})
    assert [r["mediaBuyId"] for r in answer["mediaBuyResults"]] == [buys[agents.hmac]["mediaBuyId"]]
    assert [c["creativeId"] for c in client.campaign(campaign_id)["creatives"]] == ["cr_video"]


def test_property_list_and_frequency_caps_reach_every_live_buy(client, agents, api_key):
    campaign_id = executed_and_active(client, [product(agents.hmac, "display_ros", 1000, ["display_300x250"]),
                                               product(agents.bearer, "video_premium", 1000, ["video_15s"])], [DISPLAY])
    buys = client.buys(campaign_id)
    updates = {a: sim_stats(agents, a).get("updates", 0) for a in ("act_a", "act_b")}

    listed = client.ok("PUT", f"/campaigns/{campaign_id}",
                       {"propertyList": {"agent_url": "https://lists.example", "list_id": "pl_news"}})
    assert [(c["kind"], c["succeeded"]) for c in listed["cascades"]] == [("property_list", 2)]
    capped = client.ok("PUT", f"/campaigns/{campaign_id}", {"frequencyCaps": [{"maxImpressions": 4, "per": "day"}]})
    assert [(c["kind"], c["succeeded"]) for c in capped["cascades"]] == [("frequency_caps", 2)]
    assert {a: sim_stats(agents, a).get("updates", 0) - updates[a] for a in updates} == {"act_a": 2, "act_b": 2}
    history = sim_buy(agents, agents.hmac, buys[agents.hmac]["adcpMediaBuyId"])["history"]
    assert any(h["action"] == "updated_packages" for h in history)

    other = requests.put(f"{client.buyer.base_url}{API}/advertisers/adv_someone_else/frequency-caps", timeout=10,
                         json={"frequencyCaps": []}, headers={"Authorization": f"Bearer {client.buyer.key}"})
    assert other.status_code == 403
    mine = client.ok("PUT", f"/advertisers/{client.advertiser_id}/frequency-caps",
                     {"frequencyCaps": [{"maxImpressions": 2, "per": "hour"}]})
    assert mine["success"] and [c["campaignId"] for c in mine["campaigns"]] == [campaign_id]
    assert sorted(r["mediaBuyId"] for r in mine["mediaBuyResults"]) == sorted(b["mediaBuyId"] for b in buys.values())
    assert {a: sim_stats(agents, a).get("updates", 0) - updates[a] for a in updates} == {"act_a": 3, "act_b": 3}
