"""The status a campaign reports (issue 17): `status` is the most restrictive status of its media buys
(its lifecycle while it has none), `lifecycleStatus` the buyer's own; the list filters by either and
pages by cursor under both. Buys move by signed webhooks through the real web and worker."""

from __future__ import annotations

import secrets

from mediabuy_sync.store.db import transaction
from support.stack import wait_until
from support.webhooks import at, task_payload


def _ids(page: dict) -> list[str]:
    return [c["campaignId"] for c in page["campaigns"]]


def test_status_is_the_buys_rollup_and_lifecycle_status_the_buyers(buyer, make_agent, make_campaign, db):
    client = buyer()
    agent = make_agent()
    blocked_adcp = "sa_" + secrets.token_hex(4)
    # newest last: the list shows them the other way round
    blocked, _ = make_campaign([(agent, blocked_adcp, "ACTIVE"), (agent, "sa_" + secrets.token_hex(4), "ACTIVE")],
                               advertiser_id=client.advertiser_id)
    pending, _ = make_campaign([(agent, "sa_" + secrets.token_hex(4), "PENDING_APPROVAL"),
                                (agent, "sa_" + secrets.token_hex(4), "ACTIVE")], advertiser_id=client.advertiser_id)
    live, _ = make_campaign([(agent, "sa_" + secrets.token_hex(4), "ACTIVE")], advertiser_id=client.advertiser_id)

    # the seed's example: ACTIVE + PENDING_APPROVAL reports PENDING_APPROVAL
    view = client.get(f"/campaigns/{pending}").json()["data"]
    assert (view["status"], view["lifecycleStatus"], view["mediaBuyStatus"]["surfacedStatus"]) == (
        "PENDING_APPROVAL", "ACTIVE", "PENDING_APPROVAL")

    # a seller asks for input on one buy: the campaign reports INPUT_REQUIRED once the webhook is applied
    answer = agent.post(task_payload(blocked_adcp, task_status="input-required", timestamp=at(5)))
    assert answer.status_code == 202, answer.text
    wait_until(lambda: client.get(f"/campaigns/{blocked}").json()["data"]["status"] == "INPUT_REQUIRED", 15,
               what="the campaign to report INPUT_REQUIRED")
    view = client.get(f"/campaigns/{blocked}").json()["data"]
    assert view["lifecycleStatus"] == "ACTIVE"  # the buyer's lifecycle is not the sellers' word

    blocked_page = client.get("/campaigns", params={"status": "INPUT_REQUIRED"}).json()["data"]
    assert _ids(blocked_page) == [blocked] and blocked_page["pagination"]["total"] == 1
    assert _ids(client.get("/campaigns", params={"status": "ACTIVE"}).json()["data"]) == [live]
    assert _ids(client.get("/campaigns", params={"status": "PENDING_APPROVAL"}).json()["data"]) == [pending]
    assert _ids(client.get("/campaigns", params={"lifecycleStatus": "ACTIVE"}).json()["data"]) == [live, pending, blocked]
    both = client.get("/campaigns", params={"lifecycleStatus": "ACTIVE", "status": "INPUT_REQUIRED"}).json()["data"]
    assert _ids(both) == [blocked]
    assert client.get("/campaigns", params={"lifecycleStatus": "PAUSED", "status": "INPUT_REQUIRED"}
                      ).json()["data"]["campaigns"] == []
    for summary in client.get("/campaigns").json()["data"]["campaigns"]:
        assert summary["status"] == summary["mediaBuyStatus"]["surfacedStatus"]
        assert summary["lifecycleStatus"] == "ACTIVE"


def test_cursor_paging_holds_under_each_filter(buyer, make_agent, make_campaign):
    client = buyer()
    agent = make_agent()
    made = [make_campaign([(agent, "sa_" + secrets.token_hex(4), "INPUT_REQUIRED" if i % 2 else "ACTIVE")],
                          advertiser_id=client.advertiser_id)[0] for i in range(7)]
    blocked_newest_first = [c for i, c in enumerate(made) if i % 2][::-1]

    for params in ({"status": "INPUT_REQUIRED"}, {"status": "INPUT_REQUIRED", "lifecycleStatus": "ACTIVE"}):
        seen, cursor, pages = [], None, 0
        while True:
            page = client.get("/campaigns", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
                              ).json()["data"]
            assert page["pagination"]["total"] == 3
            seen += _ids(page)
            pages += 1
            cursor = page["pagination"]["nextCursor"]
            if cursor is None:
                break
        assert (seen, pages) == (blocked_newest_first, 2), params
    by_lifecycle = client.get("/campaigns", params={"lifecycleStatus": "ACTIVE", "limit": 5}).json()["data"]
    assert (len(by_lifecycle["campaigns"]), by_lifecycle["pagination"]["total"]) == (5, 7)


def test_the_list_uses_the_filter_indexes(db):
    """The filters are the migration's index expressions: PostgreSQL can answer a page from them."""
    names = {r["indexname"] for r in db("SELECT indexname FROM pg_indexes WHERE tablename = 'campaigns'")}
    assert {"campaigns_advertiser_reported", "campaigns_advertiser_lifecycle"} <= names
    for where, index in (("coalesce(surfaced_status, status) = 'INPUT_REQUIRED'", "campaigns_advertiser_reported"),
                         ("status = 'PAUSED'", "campaigns_advertiser_lifecycle")):
        # on a test database's few rows a scan, or another index and a sort of its one row, is cheaper:
        # forbid them to see that the index fits (a page read in the index's order, no sort)
        with transaction() as conn:
            conn.execute("SET LOCAL enable_seqscan = off")
            conn.execute("SET LOCAL enable_bitmapscan = off")
            conn.execute("SET LOCAL enable_sort = off")
            plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
                f"EXPLAIN SELECT id FROM campaigns WHERE advertiser_id = 'adv_x' AND {where} "
                "ORDER BY created_at DESC, id DESC LIMIT 21"))
        assert index in plan and "Sort" not in plan, plan
