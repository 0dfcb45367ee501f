"""Delivery reports and sync_creatives results reach the buys and their packages."""

from __future__ import annotations

from support.stack import wait_until
from support.webhooks import at, task_payload


def processed(db, answer):
    event_id = answer.json()["data"]["event_id"]
    wait_until(lambda: db("SELECT state FROM webhook_events WHERE id = %s", (event_id,))[0]["state"] == "processed",
               what=f"event {event_id} processed")
    return db("SELECT outcome FROM webhook_events WHERE id = %s", (event_id,))[0]["outcome"]


def delivery(adcp_id, status, impressions, spend, clicks, packages=(), at_s=0):
    return task_payload(
        None, task_type="media_buy_delivery", task_status="completed", timestamp=at(at_s),
        result={"notification_type": "scheduled", "media_buy_deliveries": [{
            "media_buy_id": adcp_id, "status": status,
            "totals": {"impressions": impressions, "spend": spend, "clicks": clicks},
            "by_package": [{"package_id": p, "impressions": impressions // 2, "spend": spend / 2, "clicks": clicks // 2}
                           for p in packages],
        }]},
    )


def test_delivery_reports_update_totals_in_order_and_their_status(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, "sa_del", "ACTIVE")])
    db("INSERT INTO packages (id, media_buy_id, adcp_package_id, product_id) VALUES ('pkg_del_1', %s, 'ap_1', 'prod_1')",
       (buy_id,))

    assert processed(db, agent.post(delivery("sa_del", "active", 1000, 12.5, 10, ["ap_1"], at_s=10))) == "unchanged"
    # an older report arriving late does not roll the figures back
    processed(db, agent.post(delivery("sa_del", "active", 400, 5.0, 4, ["ap_1"], at_s=5)))

    buy = db("SELECT impressions, spend, clicks, status FROM media_buys WHERE id = %s", (buy_id,))[0]
    assert (buy["impressions"], float(buy["spend"]), buy["clicks"], buy["status"]) == (1000, 12.5, 10, "ACTIVE")
    package = db("SELECT impressions, spend, clicks FROM packages WHERE id = 'pkg_del_1'")[0]
    assert (package["impressions"], float(package["spend"]), package["clicks"]) == (500, 6.25, 5)

    # delivery completed: the buy completes too
    processed(db, agent.post(delivery("sa_del", "completed", 2000, 25.0, 20, at_s=20)))
    buy = db("SELECT impressions, status FROM media_buys WHERE id = %s", (buy_id,))[0]
    assert (buy["impressions"], buy["status"]) == (2000, "COMPLETED")


def test_reporting_delayed_changes_no_status(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id,) = make_campaign([(agent, "sa_delay", "ACTIVE")])
    payload = task_payload(None, task_type="media_buy_delivery", timestamp=at(3), result={
        "notification_type": "delayed", "media_buy_deliveries": [{"media_buy_id": "sa_delay", "status": "reporting_delayed"}]})
    assert processed(db, agent.post(payload)) == "no-status"
    assert db("SELECT status FROM media_buys WHERE id = %s", (buy_id,))[0]["status"] == "ACTIVE"
    assert db("SELECT count(*) AS n FROM status_changes WHERE entity_id = %s", (buy_id,))[0]["n"] == 0


def test_sync_creatives_results_are_kept_per_buy(db, make_agent, make_campaign):
    agent = make_agent()
    _, (buy_id, other_id) = make_campaign([(agent, "sa_cr", "ACTIVE"), (agent, "sa_cr2", "ACTIVE")])
    result = {"creatives": [
        {"creative_id": "cr_video_15s", "action": "created", "status": "approved", "assigned_to": ["ap_9"]},
        {"creative_id": "cr_banner", "action": "created", "status": "rejected"},
    ]}
    # we name the buy as operation_id when we sync its creatives
    answer = agent.post(task_payload(None, task_type="sync_creatives", operation_id=buy_id, timestamp=at(5), result=result))
    assert processed(db, answer) == "creatives"

    rows = db("SELECT creative_id, status FROM media_buy_creatives WHERE media_buy_id = %s ORDER BY creative_id", (buy_id,))
    assert [(r["creative_id"], r["status"]) for r in rows] == [("cr_banner", "rejected"), ("cr_video_15s", "approved")]
    assert db("SELECT count(*) AS n FROM media_buy_creatives WHERE media_buy_id = %s", (other_id,))[0]["n"] == 0
