"""Operations: /metrics figures against what happened, one webhook's correlation id across the web's
and the worker's JSON logs, and the /ops pages in headless Chromium (screenshots under
test-output/<run>/screenshots/).

One traffic run feeds every test here: simulated agents (one healthy, one whose polls all fail), a
campaign executed over the healthy one, whose webhooks reach us, and webhooks we sign ourselves: accepted,
duplicate, badly signed, for an unknown agent, and one for a buy nobody knows (it dies).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mediabuy_sync.store import agents, api_keys
from mediabuy_sync.store.db import transaction
from support.buyer import Buyer, campaign_body
from support.sim import start_simulator
from support.stack import OUTPUT, wait_until
from support.webhooks import Sender, at, task_payload

SECRET = "ops-tests-secret-0123456789abcdef"
ADMIN_TOKEN = "test-admin-token-of-at-least-32-bytes"  # tests/conftest.py
LIVE, BROKEN = "ops_sim_live", "ops_sim_broken"
SIM_AGENTS = {
    LIVE: {},
    BROKEN: {"faults": {"poll_http_error_share": 1.0}},
}
CHROMIUM = os.environ.get("MEDIABUY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = OUTPUT / "screenshots"


def scrape(url: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), …)): value} of one /metrics page."""
    text = requests.get(url, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
    return lines


@pytest.fixture(scope="module")
def endpoints(stack):
    ports = stack["metrics_ports"]
    return SimpleNamespace(web=stack["base_url"] + "/metrics",
                           worker=f"http://127.0.0.1:{ports['MEDIABUY_WORKER_METRICS_PORT']}/metrics",
                           beat=f"http://127.0.0.1:{ports['MEDIABUY_BEAT_METRICS_PORT']}/metrics")


@pytest.fixture(scope="module")
def traffic(stack, endpoints, tmp_path_factory, make_agent_once):
    """Drive the traffic once; returns what happened and the scrapes before and after."""
    from mediabuy_sync.domain.statuses import Status
    from mediabuy_sync.store.campaigns import NewBuy, create_campaign

    wait_until(lambda: _answers(endpoints.worker) and _answers(endpoints.beat), 30, 0.5, "the metrics ports")
    before = SimpleNamespace(web=scrape(endpoints.web), worker=scrape(endpoints.worker))
    sim = start_simulator(tmp_path_factory.mktemp("sim"), SIM_AGENTS, name="sim-ops")
    try:
        with transaction() as conn:
            for agent_id, mcp in sim.mcp.items():
                agents.add_agent(conn, agent_id, agent_id, mcp, "hmac-sha256")
                agents.add_secret(conn, agent_id, "hmac-sha256", SECRET)
        # A campaign over the healthy agent, executed through the buyer API: a worker creates the buy at
        # the agent, which then reports on it by signed webhooks.
        with transaction() as conn:
            key = api_keys.create_key(conn, "adv_ops")[1]
        buyer = Buyer(stack["base_url"], "adv_ops", key)
        campaign_id = buyer.create(campaign_body("adv_ops", [LIVE], name="Ops dashboard campaign"))["campaignId"]
        executed = requests.post(f"{stack['base_url']}/api/v2/buyer/campaigns/{campaign_id}/execute", json={},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert executed.status_code == 200, executed.text
        with transaction() as conn:
            live_buy = conn.execute("SELECT id FROM media_buys WHERE campaign_id = %s", (campaign_id,)).fetchone()["id"]
            _, (broken_buy,) = create_campaign(conn, "adv_ops", "Ops broken agent",
                                               [NewBuy(BROKEN, "sa_never", status=Status.ACTIVE)], status="ACTIVE")
            conn.execute("UPDATE media_buys SET poll_due_at = now() WHERE id = %s", (broken_buy,))

        # Webhooks we sign ourselves, for a fresh agent: exact figures.
        sender = make_agent_once()
        with transaction() as conn:
            _, (own_buy,) = create_campaign(conn, "adv_ops", "Ops own webhooks",
                                            [NewBuy(sender.agent_id, "sa_ops_1", status=Status.PENDING_APPROVAL)],
                                            status="ACTIVE")
        request_id = "ops-test-" + secrets.token_hex(6)
        payload = task_payload("sa_ops_1", "active", timestamp=at(10))
        body = json.dumps(payload, separators=(",", ":")).encode()
        first = sender.post(body, headers={**sender.headers_for(body), "X-Request-ID": request_id})
        assert first.status_code == 202, first.text
        assert first.headers["X-Request-ID"] == request_id
        assert sender.post(payload).status_code == 200  # the same again: a duplicate
        assert sender.post(payload, headers={**sender.headers_for(body), "X-AdCP-Signature": "sha256=" + "0" * 64}
                           ).status_code == 401
        nobody = sender.post(task_payload("sa_nobody_knows", "active", timestamp=at(20)))  # matches no buy
        assert nobody.status_code == 202
        # A poison event (stored by an older, looser version, say): every attempt fails, then it is dead.
        from mediabuy_sync.queue.names import INGEST
        from mediabuy_sync.worker.app import celery_app

        poison = task_payload("sa_ops_1", "paused", timestamp=at(30))
        del poison["status"]  # not valid ADCP any more
        with transaction() as conn:
            doomed_id = conn.execute("INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body) "
                                     "VALUES (%s, %s, %s, %s) RETURNING id", (sender.agent_id, poison["idempotency_key"],
                                     poison["task_type"], json.dumps(poison))).fetchone()["id"]
        celery_app.send_task(INGEST, args=[doomed_id])
        web_unknown_before = scrape(endpoints.web)
        assert Sender(stack["base_url"], "ops_no_such_agent", "hmac-sha256", SECRET).post(
            task_payload("x", "active")).status_code == 404
        web_unknown_after = scrape(endpoints.web)

        event_id, nobody_id = first.json()["data"]["event_id"], nobody.json()["data"]["event_id"]
        wait_until(lambda: _event(event_id)["state"] == "processed", 30, 0.2, "our event processed")
        wait_until(lambda: _event(nobody_id)["state"] == "unmatched", 30, 0.2, "the event about no buy unmatched")
        wait_until(lambda: _event(doomed_id)["state"] == "dead", 60, 0.2, "the doomed event dead")
        # The agent's webhooks processed (on a loaded machine the first create may time out on our side
        # and the buy reach ACTIVE later, by a retry or a poll: what it is by then doesn't matter here).
        wait_until(lambda: _one("SELECT count(*) FILTER (WHERE state = 'processed') AS done, "
                                "count(*) FILTER (WHERE state = 'received') AS waiting FROM webhook_events "
                                "WHERE agent_id = %s", (LIVE,)) in ({"done": 2, "waiting": 0}, {"done": 3, "waiting": 0})
                   or _buy(live_buy)["status"] == "ACTIVE", 180, 0.5, "the agent's webhooks processed")
        wait_until(lambda: _agent(BROKEN)["poll_failures"] >= 1, 60, 0.2, "a failed poll of the broken agent")
        wait_until(lambda: _one("SELECT rollup_version = status_version AS current FROM campaigns WHERE id = %s",
                                (campaign_id,))["current"], 60, 0.2, "the campaign's rollup")
        yield SimpleNamespace(sim=sim, before=before, web_unknown_before=web_unknown_before,
                              web_unknown_after=web_unknown_after, sender=sender, request_id=request_id,
                              event_id=event_id, doomed_id=doomed_id, nobody_id=nobody_id, own_buy=own_buy,
                              live_buy=live_buy,
                              campaign_id=campaign_id, broken_buy=broken_buy)
    finally:
        sim.proc.stop()


@pytest.fixture(scope="module")
def make_agent_once(stack):
    def make() -> Sender:
        agent_id = "agent_ops_" + secrets.token_hex(3)
        with transaction() as conn:
            agents.add_agent(conn, agent_id, agent_id, "http://127.0.0.1:9/mcp", "hmac-sha256")
            agents.add_secret(conn, agent_id, "hmac-sha256", SECRET)
        return Sender(stack["base_url"], agent_id, "hmac-sha256", SECRET)

    return make


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def _one(sql: str, params: tuple) -> dict:
    with transaction() as conn:
        return conn.execute(sql, params).fetchone()


def _event(event_id):
    return _one("SELECT * FROM webhook_events WHERE id = %s", (event_id,))


def _buy(buy_id):
    return _one("SELECT * FROM media_buys WHERE id = %s", (buy_id,))


def _agent(agent_id):
    return _one("SELECT * FROM sales_agents WHERE id = %s", (agent_id,))


def _surfaced(campaign_id):
    return _one("SELECT surfaced_status FROM campaigns WHERE id = %s", (campaign_id,))["surfaced_status"]


# --- metrics ---------------------------------------------------------------------------------------


def test_the_webs_metrics_count_each_webhook_by_agent_and_outcome(traffic, endpoints):
    web = scrape(endpoints.web)
    received = "mediabuy_webhooks_received_total"
    agent = traffic.sender.agent_id

    assert value(web, received, agent=agent, outcome="accepted", reason="") == 2
    assert value(web, received, agent=agent, outcome="duplicate", reason="") == 1
    assert value(web, received, agent=agent, outcome="rejected", reason="webhook_signature_invalid") == 1
    # an agent we don't know is "unknown", never the name the request made up
    unknown = dict(agent="unknown", outcome="rejected", reason="not_found")
    assert value(traffic.web_unknown_after, received, **unknown) - value(traffic.web_unknown_before, received, **unknown) == 1
    assert not any("ops_no_such_agent" in str(labels) for _, labels in web)
    # the web's own process group only: the worker's task metrics are on the worker's port
    assert not any(name.startswith("mediabuy_task_duration") for name, _ in web)
    # the simulated agent's webhooks: every accepted one is one stored event (more may be arriving)
    wait_until(lambda: value(scrape(endpoints.web), received, agent=LIVE, outcome="accepted")
               == _one("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (LIVE,))["n"] >= 1,
               20, 0.5, "accepted webhooks = stored events")


def test_the_scrape_time_gauges_agree_with_the_database(traffic, endpoints):
    def agree():
        web = scrape(endpoints.web)
        row = _one("SELECT count(*) FILTER (WHERE state = 'dead') AS dead, "
                   "count(*) FILTER (WHERE state = 'unmatched') AS unmatched FROM webhook_events", ())
        return (value(web, "mediabuy_inbox_events", state="dead") == row["dead"] >= 1
                and value(web, "mediabuy_inbox_events", state="unmatched") == row["unmatched"] >= 1
                and value(web, "mediabuy_state_scrape_ok", source="postgres") == 1
                and value(web, "mediabuy_state_scrape_ok", source="redis") == 1
                and all(("mediabuy_queue_depth", (("queue", q),)) in web for q in ("ingest", "agents", "interactive"))
                and value(web, "mediabuy_inbox_lag_seconds") >= 0
                and value(web, "mediabuy_agent_poll_failures", agent=BROKEN) == _agent(BROKEN)["poll_failures"]
                and value(web, "mediabuy_campaigns", surfaced_status="ACTIVE") >= 1)

    wait_until(agree, 20, 0.5, "the gauges to match the database")


def test_the_workers_metrics_show_the_tasks_transitions_polls_and_the_dead_event(traffic, endpoints):
    worker, before = scrape(endpoints.worker), traffic.before.worker

    def grew(name, **labels):
        return value(worker, name, **labels) - value(before, name, **labels)

    # the accepted webhooks were applied by inbox drains; the doomed event failed every attempt of the
    # ingest task (and of a drain's batch, if one claimed it first): retried, then dead
    assert grew("mediabuy_task_duration_seconds_count", task="mediabuy_sync.drain_inbox", state="success") >= 1
    assert grew("mediabuy_task_duration_seconds_count", task="mediabuy_sync.ingest", state="success") >= 1
    assert grew("mediabuy_task_duration_seconds_count", task="mediabuy_sync.recompute", state="success") >= 1
    assert grew("mediabuy_task_retries_total", task="mediabuy_sync.ingest") >= 1
    assert grew("mediabuy_events_dead_total") >= 1
    assert grew("mediabuy_status_transitions_total", from_status="PENDING_APPROVAL", to_status="ACTIVE",
                source="webhook") >= 1  # our own buy's, at least
    applied = _one("SELECT count(*) AS n FROM status_changes s JOIN webhook_events e ON e.id = s.event_id "
                   "WHERE s.source = 'webhook' AND s.outcome = 'applied' AND e.agent_id IN (%s, %s)",
                   (LIVE, traffic.sender.agent_id))["n"]
    assert grew("mediabuy_status_reports_total", source="webhook", outcome="applied") >= applied >= 1
    # every failed poll of the broken agent is a poll call with its error kind
    wait_until(lambda: value(scrape(endpoints.worker), "mediabuy_poll_calls_total", agent=BROKEN)
               == _agent(BROKEN)["poll_failures"] >= 1, 20, 0.5, "poll calls = the agent's failures")
    assert value(scrape(endpoints.worker), "mediabuy_poll_calls_total", agent=BROKEN, outcome="ok") == 0


def test_beat_serves_what_it_sent(traffic, endpoints):
    beat = scrape(endpoints.beat)
    assert value(beat, "mediabuy_tasks_published_total", task="mediabuy_sync.sweep_polls") >= 1
    assert value(beat, "mediabuy_tasks_published_total", task="mediabuy_sync.sweep_inbox") >= 1


# --- logs ------------------------------------------------------------------------------------------


def test_one_webhooks_correlation_id_runs_through_web_and_worker_logs(traffic, stack):
    rid = traffic.request_id

    def lines_of(proc):
        return [line for line in json_lines(proc.log_path) if line.get("request_id") == rid]

    web = wait_until(lambda: lines_of(stack["web"]), 10, 0.2, "the web's line")
    assert any(line.get("event_id") == traffic.event_id and line["message"].startswith("webhook accepted")
               and line.get("agent_id") == traffic.sender.agent_id for line in web), web
    worker = wait_until(lambda: [l for l in lines_of(stack["worker"]) if "surfaced" in l["message"]] and lines_of(stack["worker"]),
                        20, 0.2, "the worker's lines, the recompute's too")
    ingest = [line for line in worker if line.get("event_id") == traffic.event_id]
    assert ingest, worker
    assert any(line.get("media_buy_id") == traffic.own_buy and line.get("agent_id") == traffic.sender.agent_id
               for line in ingest), ingest
    # the recompute that ingest queued carries the same request id, with its campaign
    own_campaign = _buy(traffic.own_buy)["campaign_id"]
    assert any(line.get("campaign_id") == own_campaign and "surfaced" in line["message"] for line in worker), worker
    # every line the web wrote is one JSON object (gunicorn's own too), and the agents' secret is in no log
    web_lines = [line for line in stack["web"].log_path.read_text(errors="replace").splitlines() if line.strip()]
    assert web_lines and len(json_lines(stack["web"].log_path)) == len(web_lines)
    for proc in (stack["web"], stack["worker"], stack["beat"]):
        assert SECRET not in proc.log_path.read_text(errors="replace")


# --- the dashboard in Chromium ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./dev test does, as root: apt-get install "
                    "chromium), or point MEDIABUY_CHROMIUM at a Chromium binary", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


def test_the_ops_pages_in_chromium(traffic, stack, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = stack["base_url"]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)

    page.goto(base + "/ops")
    assert page.url == base + "/ops/login"  # no session yet
    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    assert page.url == base + "/ops/login"
    page.fill("input[name=token]", ADMIN_TOKEN)
    page.click("button[type=submit]")
    assert page.url == base + "/ops"
    [cookie] = [c for c in page.context.cookies() if c["name"] == "mediabuy_ops"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # this run's campaigns: earlier suites' may fill the first pages (50 a page, blocked first)
    page.goto(base + "/ops?advertiser=adv_ops")

    row = page.locator("#campaigns tr", has_text=traffic.campaign_id)
    surfaced = _surfaced(traffic.campaign_id)
    assert surfaced and surfaced in row.inner_text()
    broken = page.locator("#campaigns tr", has_text="Ops broken agent").first.inner_text()
    assert "ACTIVE" in broken
    assert page.locator("svg.chart").count() == 2
    # a line for the busiest agent of the last hour (earlier suites' agents may outnumber ours: the
    # chart draws the busiest eight and the rest as "others")
    busiest = _one("SELECT agent_id FROM webhook_events WHERE received_at > now() - interval '1 hour' "
                   "GROUP BY agent_id ORDER BY count(*) DESC, agent_id LIMIT 1", ())["agent_id"]
    assert busiest in page.locator("svg.chart").first.inner_html()
    page.screenshot(path=str(SCREENSHOTS / "ops-campaigns.png"), full_page=True)

    row.locator("a").first.click()
    assert page.url == f"{base}/ops/campaigns/{traffic.campaign_id}"
    assert page.inner_text("#surfaced") == _surfaced(traffic.campaign_id)
    timeline = page.inner_text("#timeline")
    assert "webhook" in timeline and "rollup" in timeline  # the agent's reports, and the campaign's status
    assert traffic.live_buy in page.inner_text("#buys")
    page.screenshot(path=str(SCREENSHOTS / "ops-campaign.png"), full_page=True)

    page.goto(base + "/ops/agents")
    assert "failed in a row" in page.inner_text(f"#{BROKEN}")
    assert page.locator(f"#{traffic.sender.agent_id} td").nth(4).inner_text() == "1"  # one bad signature
    assert "s ago" in page.inner_text(f"#{LIVE}")
    page.screenshot(path=str(SCREENSHOTS / "ops-agents.png"), full_page=True)

    page.goto(base + "/ops/events/dead")
    assert "no media buy" in page.inner_text("#unmatched")  # the event about no buy, with why
    last_attempt = _event(traffic.doomed_id)["last_attempt_at"]
    page.check(f"input[name=event_id][value='{traffic.doomed_id}']")
    page.screenshot(path=str(SCREENSHOTS / "ops-dead-events.png"), full_page=True)
    page.click("#replay")
    assert f"Replayed 1 event(s): {traffic.doomed_id}" in page.inner_text("#replayed")
    # processed again: it fails again (its body is still not valid) and dies after its attempts
    wait_until(lambda: (e := _event(traffic.doomed_id))["state"] == "dead" and e["last_attempt_at"] > last_attempt,
               60, 0.2, "the replayed event to be tried again")
    page.screenshot(path=str(SCREENSHOTS / "ops-replayed.png"), full_page=True)

    # a form posted without the page's CSRF token changes nothing
    answer = page.request.post(base + "/ops/events/replay", form={"csrf": "forged", "event_id": str(traffic.doomed_id)})
    assert answer.status == 403 and answer.json()["error"]["code"] == "FORBIDDEN"
    page.close()
    assert all((SCREENSHOTS / name).stat().st_size > 5000 for name in ("ops-campaigns.png", "ops-agents.png"))


def test_the_ops_pages_need_the_admin_token(stack):
    base = stack["base_url"]
    answer = requests.get(base + "/ops/agents", allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/ops/login")
    forged = requests.get(base + "/ops/agents", cookies={"mediabuy_ops": "99999999999.deadbeef"},
                          allow_redirects=False, timeout=10)
    assert forged.status_code == 303
    bearer = requests.get(base + "/ops/agents", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert bearer.status_code == 200 and bearer.headers["Content-Type"].startswith("text/html")
    assert "<script" not in bearer.text
