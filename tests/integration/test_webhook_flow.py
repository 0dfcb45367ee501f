"""A signed webhook becomes a media-buy status and a campaign status: real gunicorn, worker, beat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from support.stack import wait_until
from support.webhooks import at, task_payload


def buy(db, buy_id):
    return db("SELECT * FROM media_buys WHERE id = %s", (buy_id,))[0]


def campaign(db, campaign_id):
    return db("SELECT * FROM campaigns WHERE id = %s", (campaign_id,))[0]


def changes(db, buy_id):
    return db("SELECT * FROM status_changes WHERE entity_id = %s ORDER BY id", (buy_id,))


def event(db, event_id):
    return db("SELECT * FROM webhook_events WHERE id = %s", (event_id,))[0]


def processed(db, event_id):
    return lambda: event(db, event_id)["state"] == "processed"


def test_accepted_webhook_moves_the_buy_writes_the_ledger_and_the_rollup(db, make_agent, make_campaign, api_key):
    agent = make_agent()
    campaign_id, (buy_id,) = make_campaign([(agent, "sa_1", "PENDING_APPROVAL")])
    assert campaign(db, campaign_id)["surfaced_status"] == "PENDING_APPROVAL"

    answer = agent.post(task_payload("sa_1", "active", timestamp=at(10)))

    assert answer.status_code == 202
    event_id = answer.json()["data"]["event_id"]
    wait_until(processed(db, event_id), what="event processed")
    row = buy(db, buy_id)
    assert (row["status"], row["adcp_status"]) == ("ACTIVE", "active")
    [change] = changes(db, buy_id)
    assert (change["from_status"], change["to_status"], change["source"], change["event_id"], change["outcome"]) == (
        "PENDING_APPROVAL", "ACTIVE", "webhook", event_id, "applied",
    )
    wait_until(lambda: campaign(db, campaign_id)["surfaced_status"] == "ACTIVE", what="rollup")
    assert list(campaign(db, campaign_id)["blockers"]) == [buy_id]

    # and the buyer API shows it
    view = requests.get(
        f"{agent.base_url}/api/v2/buyer/campaigns/{campaign_id}",
        headers={"Authorization": f"Bearer {api_key()}"}, timeout=5,
    ).json()["data"]
    assert view["mediaBuyStatus"]["surfacedStatus"] == "ACTIVE"
    assert [(b["mediaBuyId"], b["status"]) for b in view["mediaBuys"]] == [(buy_id, "ACTIVE")]


def test_the_same_webhook_three_times_changes_the_buy_once(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, "sa_dup", "PENDING_APPROVAL")])
    payload = task_payload("sa_dup", "active", timestamp=at(10))

    answers = [agent.post(payload) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 200, 200]
    event_ids = {a.json()["data"]["event_id"] for a in answers}
    assert len(event_ids) == 1 and all(a.json()["data"].get("duplicate") for a in answers[1:])
    wait_until(processed(db, event_ids.pop()))
    assert [c["to_status"] for c in changes(db, buy_id)] == ["ACTIVE"]
    assert db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (agent.agent_id,))[0]["n"] == 1


def test_an_older_report_after_a_newer_one_is_recorded_as_stale(db, make_agent, make_campaign):
    agent = make_agent()
    campaign_id, (buy_id,) = make_campaign([(agent, "sa_order", "PENDING_APPROVAL")])

    newer = agent.post(task_payload("sa_order", "active", timestamp=at(20))).json()["data"]["event_id"]
    wait_until(processed(db, newer))
    older = agent.post(task_payload(None, task_status="working", timestamp=at(10), result={"media_buy_id": "sa_order"}))
    wait_until(processed(db, older.json()["data"]["event_id"]))

    assert buy(db, buy_id)["status"] == "ACTIVE"
    assert [(c["to_status"], c["outcome"]) for c in changes(db, buy_id)] == [("ACTIVE", "applied"), ("PENDING_APPROVAL", "stale")]
    wait_until(lambda: campaign(db, campaign_id)["surfaced_status"] == "ACTIVE")


def test_active_and_pending_across_two_agents_surface_pending_with_its_blocker(db, make_agent, make_campaign):
    agent_a, agent_b = make_agent(), make_agent(scheme="bearer")
    campaign_id, (buy_a, buy_b) = make_campaign([(agent_a, "a_1", "PENDING_APPROVAL"), (agent_b, "b_1", "PENDING_APPROVAL")])

    assert agent_a.post(task_payload("a_1", "active", timestamp=at(5))).status_code == 202
    assert agent_b.post(task_payload("b_1", None, task_status="working", timestamp=at(5))).status_code == 202

    wait_until(lambda: buy(db, buy_a)["status"] == "ACTIVE", what="buy a active")
    wait_until(lambda: changes(db, buy_b), what="buy b report recorded")
    wait_until(lambda: campaign(db, campaign_id)["rollup_version"] == campaign(db, campaign_id)["status_version"])
    row = campaign(db, campaign_id)
    assert row["surfaced_status"] == "PENDING_APPROVAL"
    assert list(row["blockers"]) == [buy_b]


def test_a_disallowed_transition_is_an_anomaly_recorded_not_applied_and_asks_for_a_poll(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, "sa_anom", "ACTIVE")])

    answer = agent.post(task_payload("sa_anom", None, task_status="rejected", timestamp=at(30)))
    wait_until(processed(db, answer.json()["data"]["event_id"]))

    row = buy(db, buy_id)
    assert row["status"] == "ACTIVE"
    assert row["poll_due_at"] is not None and row["poll_reason"].startswith("anomaly")
    assert [(c["to_status"], c["outcome"]) for c in changes(db, buy_id)] == [("REJECTED", "anomaly")]


def test_a_report_found_by_task_id_links_the_agents_media_buy_id(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, None, "DRAFT")])
    db("UPDATE media_buys SET adcp_task_id = 'task_xyz', status = 'PENDING_APPROVAL' WHERE id = %s", (buy_id,))

    answer = agent.post(task_payload("sa_new", "pending_creatives", task_id="task_xyz", timestamp=at(1)))
    wait_until(processed(db, answer.json()["data"]["event_id"]))

    row = buy(db, buy_id)
    assert (row["status"], row["adcp_media_buy_id"]) == ("INPUT_REQUIRED", "sa_new")


def test_a_burst_for_one_campaign_runs_far_fewer_recomputes_than_events(db, make_agent, make_campaign):
    agent = make_agent()
    buys = [(agent, f"burst_{i}", "PENDING_APPROVAL") for i in range(20)]
    campaign_id, buy_ids = make_campaign(buys)
    before = campaign(db, campaign_id)["rollups"]

    # 20 buys, each walked through three newer statuses: 60 applied changes, sent 12 at a time
    statuses = ["pending_creatives", "pending_activation", "active"]
    payloads = [task_payload(f"burst_{i}", status, timestamp=at(100 + step))
                for step, status in enumerate(statuses) for i in range(20)]
    with ThreadPoolExecutor(12) as pool:
        assert {a.status_code for a in pool.map(agent.post, payloads)} == {202}

    wait_until(lambda: db("SELECT count(*) AS n FROM media_buys WHERE campaign_id = %s AND status = 'ACTIVE'",
                          (campaign_id,))[0]["n"] == 20, 30, what="all buys active")
    wait_until(lambda: campaign(db, campaign_id)["rollup_version"] == campaign(db, campaign_id)["status_version"])
    row = campaign(db, campaign_id)
    assert row["surfaced_status"] == "ACTIVE"
    applied = db("SELECT count(*) AS n FROM status_changes WHERE entity_id = ANY(%s) AND outcome = 'applied'",
                 (buy_ids,))[0]["n"]
    # sent concurrently, a buy's reports may be processed out of order; the later ones are then stale
    assert 20 <= applied <= 60
    recomputes = row["rollups"] - before
    assert 1 <= recomputes < applied / 2, f"{recomputes} recomputes for {applied} changes"


def test_an_event_no_buy_matches_is_kept_unmatched_its_agent_polled_and_replayable(db, make_agent, make_campaign, stack):
    import subprocess
    import sys

    agent = make_agent()
    _, (known_id,) = make_campaign([(agent, "sa_known_1", "ACTIVE")])
    payload = task_payload("not_yet_known", "active", timestamp=at(1))
    del payload["operation_id"]  # as a seller after a synchronous create: nothing we gave it
    event_id = agent.post(payload).json()["data"]["event_id"]

    wait_until(lambda: event(db, event_id)["state"] == "unmatched", 30, what="event unmatched")
    kept = event(db, event_id)
    assert kept["attempts"] == 1 and "no media buy" in kept["last_error"]  # not retried: nothing more to find
    # whatever it was about is read from the seller: the agent's unsettled buys are polled soon
    assert buy(db, known_id)["poll_reason"] == "unmatched webhook"

    # the buy becomes known (say the operator registered it); an admin replays the event
    _, (buy_id,) = make_campaign([(agent, "not_yet_known", "PENDING_APPROVAL")])
    cli = [sys.executable, "-m", "mediabuy_sync.cli"]
    listed = subprocess.run(cli + ["events", "unmatched", "--limit", "100000"], env=stack["env"], capture_output=True,
                            text=True, check=True)
    assert str(event_id) in listed.stdout and "no media buy" in listed.stdout
    subprocess.run(cli + ["events", "replay", str(event_id)], env=stack["env"], check=True, capture_output=True)

    wait_until(processed(db, event_id), what="replayed event processed")
    assert buy(db, buy_id)["status"] == "ACTIVE"


def test_a_webhook_is_matched_by_the_context_we_sent_echoed_back(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, None, "PENDING_APPROVAL")])  # the seller has not named it to us yet
    payload = task_payload("sa_named_late", "active", timestamp=at(1), task_id="task_never_given")
    del payload["operation_id"]
    payload["result"]["context"] = {"media_buy_id": buy_id, "campaign_id": "cmp_x"}  # our create's context
    event_id = agent.post(payload).json()["data"]["event_id"]

    wait_until(processed(db, event_id), what="event processed")
    assert (buy(db, buy_id)["status"], buy(db, buy_id)["adcp_media_buy_id"]) == ("ACTIVE", "sa_named_late")


def test_an_event_that_cannot_be_processed_is_retried_then_dead_and_can_be_replayed(db, make_agent, make_campaign, stack):
    """A poison event (stored by an older, looser version, say): every attempt fails, then it is dead
    with its error; once the cause is gone it is replayed."""
    import json
    import subprocess
    import sys

    from mediabuy_sync.queue.names import INGEST
    from mediabuy_sync.worker.app import celery_app

    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, "sa_poison", "PENDING_APPROVAL")])
    good = task_payload("sa_poison", "active", timestamp=at(1))
    poison = {k: v for k, v in good.items() if k != "status"}  # not valid ADCP any more
    [row] = db("INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body) VALUES (%s, %s, %s, %s) "
               "RETURNING id", (agent.agent_id, good["idempotency_key"], good["task_type"], json.dumps(poison)))
    event_id = row["id"]
    celery_app.send_task(INGEST, args=[event_id])

    wait_until(lambda: event(db, event_id)["state"] == "dead", 30, what="event dead")
    dead = event(db, event_id)
    assert dead["attempts"] == 3 and "ValidationError" in dead["last_error"]

    db("UPDATE webhook_events SET raw_body = %s WHERE id = %s", (json.dumps(good), event_id))  # the cause gone
    cli = [sys.executable, "-m", "mediabuy_sync.cli"]
    # all of them: the oldest 100 (the default) may be other tests' when tests/security ran first
    listed = subprocess.run(cli + ["events", "dead", "--limit", "100000"], env=stack["env"], capture_output=True,
                            text=True, check=True)
    assert str(event_id) in listed.stdout
    subprocess.run(cli + ["events", "replay", str(event_id)], env=stack["env"], check=True, capture_output=True)

    wait_until(processed(db, event_id), what="replayed event processed")
    assert buy(db, buy_id)["status"] == "ACTIVE"


def test_a_batch_with_a_failing_event_rolls_back_and_each_event_goes_on_alone(db, make_agent, make_campaign, stack):
    """Four events committed together (as four webhooks would be) and one drain asked for, as the web
    does: the drain claims all four in one batch; a poison event (not valid ADCP any more) fails it,
    the batch rolls back, and each event goes on alone — the three good ones applied once each, the
    bad one retried until dead."""
    import json

    from mediabuy_sync.store.db import transaction
    from mediabuy_sync.queue import coalesce
    from mediabuy_sync.worker.app import celery_app

    agent = make_agent()
    campaign_id, buy_ids = make_campaign([(agent, f"batch_{i}", "PENDING_APPROVAL") for i in range(3)])
    payloads = [task_payload(f"batch_{i}", "active", timestamp=at(10)) for i in range(3)]
    poison = task_payload("batch_poison", "active", timestamp=at(10))
    del poison["status"]
    payloads.insert(1, poison)
    with transaction() as conn:
        ids = [conn.execute("INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id) "
                            "VALUES (%s, %s, %s, %s, 'batch-test') RETURNING id",
                            (agent.agent_id, p["idempotency_key"], p["task_type"], json.dumps(p))).fetchone()["id"]
               for p in payloads]
    coalesce.release_drain()  # a drain queued by an earlier test must not stand in for ours
    assert coalesce.request_drain(celery_app)
    good, bad = [ids[0], *ids[2:]], ids[1]

    wait_until(lambda: all(event(db, e)["state"] == "processed" for e in good), 30, what="the good events applied")
    wait_until(lambda: event(db, bad)["state"] == "dead", 30, what="the bad event dead")
    for buy_id, event_id in zip(buy_ids, good):
        assert [(c["event_id"], c["outcome"]) for c in changes(db, buy_id)] == [(event_id, "applied")]
        assert event(db, event_id)["attempts"] == 1
    assert event(db, bad)["attempts"] == 3 and "ValidationError" in event(db, bad)["last_error"]
    worker_log = stack["worker"].log_path.read_text(errors="replace")
    assert "batch of 4 events rolled back (ValidationError" in worker_log
    wait_until(lambda: campaign(db, campaign_id)["surfaced_status"] == "ACTIVE", what="rollup")


def test_a_secret_added_for_a_rotation_works_at_once_though_the_web_keeps_credentials(db, make_agent, make_campaign):
    """The web keeps an HMAC agent's credentials for a few seconds (web/agent_auth.py): a webhook signed
    with a secret added after they were kept is still accepted at once (checked again against fresh
    ones), and one signed with a secret the agent never had is still refused."""
    import secrets

    from mediabuy_sync.store import agents
    from mediabuy_sync.store.db import transaction
    from support.webhooks import Sender

    agent = make_agent("hmac-sha256")
    make_campaign([(agent, "rot_1", "PENDING_APPROVAL")])
    # both web processes serve some of these: each keeps the old credentials
    for step in range(6):
        assert agent.post(task_payload("rot_1", "pending_creatives", timestamp=at(step))).status_code == 202
    new_secret = secrets.token_hex(32)
    with transaction() as conn:
        agents.add_secret(conn, agent.agent_id, "hmac-sha256", new_secret)
    rotated = Sender(agent.base_url, agent.agent_id, "hmac-sha256", new_secret)
    answers = [rotated.post(task_payload("rot_1", "active", timestamp=at(10 + step))) for step in range(6)]
    assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
    stranger = Sender(agent.base_url, agent.agent_id, "hmac-sha256", secrets.token_hex(32))
    refused = stranger.post(task_payload("rot_1", "active", timestamp=at(30)))
    assert refused.status_code == 401 and refused.json()["error"]["details"]["reason"] == "webhook_signature_invalid"
