"""Notifications to the buyer's systems, end to end: a real receiver process (tests/support/
notify_receiver.py) verifies each POST's Standard Webhooks signature with the subscription's secret;
the changes come as signed agent webhooks through the real web, worker and beat."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from mediabuy_sync.domain.reports import StatusReport
from mediabuy_sync.domain.statuses import Status
from mediabuy_sync.services.status_path import apply_report
from mediabuy_sync.store import secretbox
from mediabuy_sync.store.db import transaction
from support.stack import Process, free_port, wait_until
from support.webhooks import at, task_payload

RECEIVER = Path(__file__).resolve().parents[1] / "support" / "notify_receiver.py"


@pytest.fixture(scope="module")
def receiver(stack):
    port = free_port()
    proc = Process("notify-receiver", [sys.executable, str(RECEIVER), str(port)], env={"PYTHONUNBUFFERED": "1"})
    wait_until(lambda: "ready:" in proc.log() or proc.popen.poll() is not None, 20, what="the receiver")
    assert proc.popen.poll() is None, proc.log()
    yield SimpleNamespace(base=f"http://127.0.0.1:{port}")
    proc.stop()


class Subscriber:
    """One advertiser's subscription, pointed at its own path of the receiver."""

    def __init__(self, buyer, receiver, name: str, event_types: list[str] | None = None):
        self.buyer, self.receiver, self.name = buyer, receiver, name
        self.path = f"/advertisers/{buyer.advertiser_id}/webhook-subscriptions"
        body = {"url": f"{receiver.base}/hooks/{name}"}
        if event_types:
            body["eventTypes"] = event_types
        answer = buyer.post(self.path, json=body)
        assert answer.status_code == 201, answer.text
        self.subscription = answer.json()["data"]
        self.id = self.subscription["id"]
        self.knobs()

    def knobs(self, **knobs) -> None:
        requests.put(f"{self.receiver.base}/_control/{self.name}", json={"secret": self.subscription["secret"], **knobs},
                     timeout=5).raise_for_status()

    def received(self, event_type: str | None = None) -> list[dict]:
        got = requests.get(f"{self.receiver.base}/_received/{self.name}", timeout=5).json()
        for item in got:
            item["json"] = json.loads(item["body"])
        return [g for g in got if event_type is None or g["json"]["type"] == event_type]

    def deliveries(self, **query) -> list[dict]:
        answer = self.buyer.get(f"{self.path}/{self.id}/deliveries", params=query)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def get(self) -> dict:
        return self.buyer.get(f"{self.path}/{self.id}").json()["data"]


def test_a_status_change_reaches_the_receiver_signed_and_verifiable(receiver, make_agent, make_campaign, buyer):
    client = buyer()
    sub = Subscriber(client, receiver, "signed")
    assert sub.subscription["secret"].startswith("whsec_") and len(sub.subscription["secret"]) >= 6 + 32
    assert sub.subscription["state"] == "active" and len(sub.subscription["eventTypes"]) == 4
    # the secret is shown once: not in GET or the list
    assert "secret" not in sub.get()
    assert all("secret" not in s for s in client.get(sub.path).json()["data"])
    agent = make_agent()
    campaign_id, (buy_id,) = make_campaign([(agent, "sa_n1", "PENDING_APPROVAL")], advertiser_id=client.advertiser_id)

    sent_at = time.time()
    assert agent.post(task_payload("sa_n1", "active", timestamp=at(10))).status_code == 202

    wait_until(lambda: sub.received("campaign.status_changed") and sub.received("media_buy.status_changed"),
               what="both notifications")
    # the agent's webhook to the buyer's receiver: the wake-up after the commit, not the sweep
    print(f"\nnotification latency: media_buy {sub.received('media_buy.status_changed')[0]['at'] - sent_at:.3f} s, "
          f"campaign {sub.received('campaign.status_changed')[0]['at'] - sent_at:.3f} s")
    [campaign_event] = sub.received("campaign.status_changed")
    [buy_event] = sub.received("media_buy.status_changed")
    assert campaign_event["verified"] and buy_event["verified"]
    assert campaign_event["json"]["data"] == {
        "advertiserId": client.advertiser_id, "campaignId": campaign_id, "previousStatus": "PENDING_APPROVAL",
        "status": "ACTIVE", "blockerCount": 1, "blockers": [buy_id]}
    data = buy_event["json"]["data"]
    assert (data["mediaBuyId"], data["previousStatus"], data["status"], data["adcpStatus"], data["source"]) == (
        buy_id, "PENDING_APPROVAL", "ACTIVE", "active", "webhook")
    # a wrong secret does not verify: the receiver's check can fail
    sub.subscription["secret"] = "whsec_" + "A" * 43 + "="
    sub.knobs()
    assert agent.post(task_payload("sa_n1", "paused", timestamp=at(20))).status_code == 202
    wait_until(lambda: len(sub.received("media_buy.status_changed")) == 2, what="the pause's notification")
    assert not sub.received("media_buy.status_changed")[-1]["verified"]
    # every delivery is listed with its attempt, under the event's id (the webhook-id sent)
    deliveries = {d["eventId"]: d for d in sub.deliveries()}
    assert deliveries[campaign_event["id"]]["state"] == "delivered"
    assert [a["statusCode"] for a in deliveries[campaign_event["id"]]["attempts"]] == [200]
    assert deliveries[buy_event["id"]]["eventType"] == "media_buy.status_changed"


def _attempts_counted(stack) -> dict[str, float]:
    """The workers' mediabuy_notification_attempts_total, by outcome."""
    port = stack["metrics_ports"]["MEDIABUY_WORKER_METRICS_PORT"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^mediabuy_notification_attempts_total\{outcome="(\w+)"\} (\S+)$', text, re.M)}


def test_a_failing_receiver_gets_it_after_retries_with_the_attempts_visible(receiver, make_agent, make_campaign, buyer,
                                                                           stack):
    counted = _attempts_counted(stack)
    client = buyer()
    sub = Subscriber(client, receiver, "flaky", ["campaign.status_changed"])
    sub.knobs(fail=2, fail_status=503)
    agent = make_agent()
    make_campaign([(agent, "sa_n2", "PENDING_APPROVAL")], advertiser_id=client.advertiser_id)

    assert agent.post(task_payload("sa_n2", "active", timestamp=at(10))).status_code == 202

    wait_until(lambda: [d for d in sub.deliveries() if d["state"] == "delivered"], 30, 0.2, "delivered after retries")
    got = sub.received()
    assert [g["answered"] for g in got] == [503, 503, 200]
    assert len({g["id"] for g in got}) == 1 and all(g["verified"] for g in got)  # one webhook-id, every try signed
    assert got[1]["at"] - got[0]["at"] >= 0.2  # backed off (0.25–0.5 s after the first failure here)
    [delivery] = sub.deliveries()
    assert [a["statusCode"] for a in delivery["attempts"]] == [503, 503, 200]
    assert [a["error"] for a in delivery["attempts"]] == ["HTTP 503", "HTTP 503", None]
    assert delivery["attemptCount"] == 3 and delivery["deliveredAt"]
    # and counted by the workers (other tests' deliveries may add to it meanwhile)
    now = _attempts_counted(stack)
    assert now["pending"] - counted.get("pending", 0) >= 2 and now["delivered"] - counted.get("delivered", 0) >= 1
    # only the type subscribed to: no media_buy.status_changed was sent
    assert {g["json"]["type"] for g in got} == {"campaign.status_changed"}


def test_410_disables_the_subscription_and_nothing_more_is_sent(receiver, make_agent, make_campaign, buyer, db):
    client = buyer()
    sub = Subscriber(client, receiver, "gone", ["media_buy.status_changed"])
    sub.knobs(gone=True)
    agent = make_agent()
    make_campaign([(agent, "sa_n3", "PENDING_APPROVAL")], advertiser_id=client.advertiser_id)

    assert agent.post(task_payload("sa_n3", "active", timestamp=at(10))).status_code == 202

    wait_until(lambda: sub.get()["state"] == "disabled", 20, 0.2, "disabled")
    view = sub.get()
    assert "410" in view["disabledReason"] and view["disabledAt"]
    [delivery] = sub.deliveries()
    assert delivery["state"] == "failed" and [a["statusCode"] for a in delivery["attempts"]] == [410]
    # more changes: no delivery made for it, nothing sent
    sub.knobs(gone=False)
    assert agent.post(task_payload("sa_n3", "paused", timestamp=at(20))).status_code == 202
    wait_until(lambda: db("SELECT count(*) AS n FROM status_changes sc JOIN media_buys mb ON mb.id = sc.entity_id "
                          "WHERE mb.adcp_media_buy_id = 'sa_n3' AND sc.to_status = 'PAUSED'")[0]["n"] == 1, what="paused")
    replay = client.post(f"{sub.path}/{sub.id}/deliveries/{delivery['id']}/replay")
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "CONFLICT"
    time.sleep(2)  # two notification sweeps (1 s in the tests): had anything been due, it would have gone
    assert len(sub.received()) == 1 and len(sub.deliveries()) == 1


def test_replay_delivers_again_one_or_a_range(receiver, make_agent, make_campaign, buyer):
    client = buyer()
    sub = Subscriber(client, receiver, "replayed", ["campaign.status_changed"])
    sub.knobs(fail=100)  # fails every attempt (4 in the tests)
    agent = make_agent()
    make_campaign([(agent, "sa_n4", "PENDING_APPROVAL")], advertiser_id=client.advertiser_id)
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    assert agent.post(task_payload("sa_n4", "active", timestamp=at(10))).status_code == 202

    wait_until(lambda: [d for d in sub.deliveries() if d["state"] == "failed"], 40, 0.2, "given up")
    [failed] = sub.deliveries()
    assert failed["attemptCount"] == 4 and [a["statusCode"] for a in failed["attempts"]] == [500] * 4
    sub.knobs()  # the receiver is fixed

    answer = client.post(f"{sub.path}/{sub.id}/deliveries/replay",
                         json={"since": since.isoformat(), "until": datetime.now(timezone.utc).isoformat()})
    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["deliveryIds"] == [failed["id"]]
    wait_until(lambda: sub.deliveries()[0]["state"] == "delivered", 20, 0.2, "replayed")
    assert [a["statusCode"] for a in sub.deliveries()[0]["attempts"]] == [500] * 4 + [200]

    # one delivery, replayed though it was delivered: sent again with the same webhook-id
    answer = client.post(f"{sub.path}/{sub.id}/deliveries/{failed['id']}/replay")
    assert answer.status_code == 202, answer.text
    wait_until(lambda: len(sub.received()) == 6, 20, 0.2, "sent again")
    got = sub.received()
    assert [g["answered"] for g in got[-2:]] == [200, 200] and got[-1]["id"] == got[0]["id"] and got[-1]["verified"]
    # not this advertiser's, or no such delivery: refused
    other = buyer()
    assert other.post(f"{sub.path}/{sub.id}/deliveries/{failed['id']}/replay").status_code == 403
    assert client.post(f"{sub.path}/{sub.id}/deliveries/999999999/replay").status_code == 404


def test_a_rolled_back_change_writes_no_notification(receiver, make_agent, make_campaign, buyer, db):
    client = buyer()
    Subscriber(client, receiver, "rollback")
    agent = make_agent()
    campaign_id, _ = make_campaign([(agent, "sa_n5", "PENDING_APPROVAL")], advertiser_id=client.advertiser_id)
    report = StatusReport("sa_n5", None, None, Status.ACTIVE, "active", datetime.now(timezone.utc))

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        with transaction() as conn:
            apply_report(conn, agent.agent_id, report, "webhook")
            assert db("SELECT count(*) AS n FROM notification_events WHERE campaign_id = %s", (campaign_id,))[0]["n"] == 0
            raise Abort  # the change rolls back, and its event with it
    assert db("SELECT count(*) AS n FROM notification_events WHERE campaign_id = %s", (campaign_id,))[0]["n"] == 0

    with transaction() as conn:  # the same change committed: its event is there
        apply_report(conn, agent.agent_id, report, "webhook")
    assert db("SELECT event_type FROM notification_events WHERE campaign_id = %s", (campaign_id,)) == [
        {"event_type": "media_buy.status_changed"}]


def test_a_campaign_blocked_too_long_is_unhealthy_then_healthy(receiver, make_agent, make_campaign, buyer):
    client = buyer()
    sub = Subscriber(client, receiver, "health", ["campaign.unhealthy", "campaign.healthy"])
    agent = make_agent()
    campaign_id, _ = make_campaign([(agent, "sa_n6", "ACTIVE")], advertiser_id=client.advertiser_id)

    # the seller needs the buyer's input: blocked (3 s is the tests' threshold)
    assert agent.post(task_payload("sa_n6", task_status="input-required", timestamp=at(10))).status_code == 202
    wait_until(lambda: sub.received("campaign.unhealthy"), 20, 0.2, "unhealthy")
    [unhealthy] = sub.received("campaign.unhealthy")
    assert unhealthy["verified"]
    assert (unhealthy["json"]["data"]["campaignId"], unhealthy["json"]["data"]["status"],
            unhealthy["json"]["data"]["reason"]) == (campaign_id, "INPUT_REQUIRED", "blocked")
    assert not sub.received("campaign.healthy")

    assert agent.post(task_payload("sa_n6", "active", timestamp=at(20))).status_code == 202
    wait_until(lambda: sub.received("campaign.healthy"), 20, 0.2, "healthy")
    assert sub.received("campaign.healthy")[0]["json"]["data"]["status"] == "ACTIVE"
    assert len(sub.received("campaign.unhealthy")) == 1  # once per blocked spell


def test_subscriptions_refuse_bad_input_and_other_advertisers(receiver, buyer, db):
    client = buyer()
    path = f"/advertisers/{client.advertiser_id}/webhook-subscriptions"
    before = db("SELECT count(*) AS n FROM notification_subscriptions")[0]["n"]
    for body, field in (({"url": "http://hooks.example.com/x"}, "url"), ({"url": "ftp://x.example"}, "url"),
                        ({"url": "https://user:pw@x.example/"}, "url"),
                        ({"url": "https://x.example/", "eventTypes": ["campaign.deleted"]}, "eventTypes.0"),
                        ({"url": "https://x.example/", "eventTypes": []}, "eventTypes"),
                        ({"url": "https://x.example/", "extra": 1}, "extra")):
        answer = client.post(path, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR" and answer.json()["error"]["field"] == field
    other = buyer()
    assert other.post(path, json={"url": "https://x.example/"}).status_code == 403
    assert other.get(path).status_code == 403
    assert db("SELECT count(*) AS n FROM notification_subscriptions")[0]["n"] == before
    created = client.post(path, json={"url": "https://x.example/"}).json()["data"]
    # stored sealed: the secret is nowhere in the row, and opens with the secrets key
    [row] = db("SELECT secret_sealed, s::text AS whole FROM notification_subscriptions s WHERE id = %s", (created["id"],))
    assert created["secret"] not in row["whole"] and created["secret"].removeprefix("whsec_") not in row["whole"]
    assert secretbox.open_sealed(row["secret_sealed"]) == created["secret"]
    assert client.request("DELETE", f"{path}/{created['id']}").status_code == 204
    assert client.get(f"{path}/{created['id']}").status_code == 404
    assert client.request("DELETE", f"{path}/{created['id']}").status_code == 404


def test_a_dead_event_makes_its_campaign_unhealthy(receiver, make_agent, make_campaign, buyer, db):
    """A poison event (stored by an older, looser version, say) fails every attempt and is dead: the
    campaign of the buy it names is notified unhealthy, in the transaction that marks it dead."""
    from mediabuy_sync.queue.names import INGEST
    from mediabuy_sync.worker.app import celery_app

    client = buyer()
    sub = Subscriber(client, receiver, "dead", ["campaign.unhealthy"])
    agent = make_agent()
    campaign_id, _ = make_campaign([(agent, "sa_n7", "PENDING_APPROVAL")], advertiser_id=client.advertiser_id)
    good = task_payload("sa_n7", "active", timestamp=at(1))
    poison = {k: v for k, v in good.items() if k != "status"}  # not valid ADCP
    [row] = db("INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body) VALUES (%s, %s, %s, %s) "
               "RETURNING id", (agent.agent_id, good["idempotency_key"], good["task_type"], json.dumps(poison)))
    celery_app.send_task(INGEST, args=[row["id"]])

    wait_until(lambda: sub.received("campaign.unhealthy"), 40, 0.2, "unhealthy after the dead event")
    [got] = sub.received()
    data = got["json"]["data"]
    assert got["verified"]
    assert (data["campaignId"], data["reason"], data["agentId"], data["eventId"], data["attempts"]) == (
        campaign_id, "dead_event", agent.agent_id, row["id"], 3)
    assert "ValidationError" in data["error"]


def test_an_unreachable_agent_makes_the_campaign_unhealthy_once(receiver, make_agent, make_campaign, buyer):
    """A pause the agent never receives (nobody listens at its endpoint): once the cascade gives up on
    its buys, one campaign.unhealthy (reason agent_unreachable) however many buys failed."""
    client = buyer()
    sub = Subscriber(client, receiver, "unreachable", ["campaign.unhealthy"])
    agent = make_agent()  # registered at http://127.0.0.1:9/mcp
    campaign_id, _ = make_campaign([(agent, "sa_n8a", "ACTIVE"), (agent, "sa_n8b", "ACTIVE")],
                                   advertiser_id=client.advertiser_id)

    answer = client.post(f"/campaigns/{campaign_id}/pause", timeout=60)
    assert answer.status_code == 200, answer.text

    wait_until(lambda: sub.received("campaign.unhealthy"), 60, 0.2, "unhealthy after the cascade gave up")
    time.sleep(2)  # the other buy's failure, and two sweeps: still one notification
    [got] = sub.received()
    data = got["json"]["data"]
    assert (data["campaignId"], data["reason"], data["agentId"], data["errorKind"]) == (
        campaign_id, "agent_unreachable", agent.agent_id, "unreachable")
