"""POST /campaigns/<id>/archive (issue 17): a campaign with nothing live at an agent is archived, its
finished buys with it; one with live buys is refused (409 naming them) and nothing changes; archived
campaigns leave the list unless it asks for ARCHIVED."""

from __future__ import annotations

import secrets

from support.buyer import campaign_body


def _sa() -> str:
    return "sa_" + secrets.token_hex(4)


def _ids(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [c["campaignId"] for c in answer.json()["data"]["campaigns"]]


def test_a_finished_campaign_is_archived_with_its_buys_and_leaves_the_list(buyer, make_agent, make_campaign, db):
    client = buyer()
    agent = make_agent()
    done, (completed, canceled, rejected) = make_campaign(
        [(agent, _sa(), "COMPLETED"), (agent, _sa(), "CANCELED"), (agent, _sa(), "REJECTED")],
        advertiser_id=client.advertiser_id)
    kept, _ = make_campaign([(agent, _sa(), "ACTIVE")], advertiser_id=client.advertiser_id)

    answer = client.post(f"/campaigns/{done}/archive")

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert (data["previousStatus"], data["newStatus"], data["status"]) == ("ACTIVE", "ARCHIVED", "ARCHIVED")
    assert [(r["mediaBuyId"], r["previousStatus"], r["status"]) for r in data["mediaBuyResults"]] == sorted([
        (completed, "COMPLETED", "ARCHIVED"), (canceled, "CANCELED", "ARCHIVED"), (rejected, "REJECTED", "ARCHIVED")])
    view = client.get(f"/campaigns/{done}").json()["data"]
    assert (view["status"], view["lifecycleStatus"]) == ("ARCHIVED", "ARCHIVED")
    assert {b["status"] for b in view["mediaBuys"]} == {"ARCHIVED"}
    # each buy's archive is in the ledger, as any status change
    ledger = db("SELECT entity_id, from_status, to_status FROM status_changes WHERE entity_id = ANY(%s) "
                "AND to_status = 'ARCHIVED'", ([completed, canceled, rejected],))
    assert len(ledger) == 3

    assert _ids(client.get("/campaigns")) == [kept]
    assert _ids(client.get("/campaigns", params={"lifecycleStatus": "ARCHIVED"})) == [done]
    assert _ids(client.get("/campaigns", params={"status": "ARCHIVED"})) == [done]
    assert client.get("/campaigns").json()["data"]["pagination"]["total"] == 1

    again = client.post(f"/campaigns/{done}/archive")
    assert again.status_code == 409 and "already archived" in again.json()["error"]["message"], again.text


def test_a_campaign_with_live_buys_is_refused_naming_them_and_nothing_changes(buyer, make_agent, make_campaign, db):
    client = buyer()
    agent = make_agent()
    campaign_id, (finished, live, waiting) = make_campaign(
        [(agent, _sa(), "COMPLETED"), (agent, _sa(), "ACTIVE"), (agent, _sa(), "INPUT_REQUIRED")],
        advertiser_id=client.advertiser_id)
    before = db("SELECT id, status, updated_at FROM media_buys WHERE campaign_id = %s ORDER BY id", (campaign_id,))

    answer = client.post(f"/campaigns/{campaign_id}/archive")

    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "CONFLICT"
    assert live in error["message"] and waiting in error["message"] and finished not in error["message"]
    assert sorted(b["mediaBuyId"] for b in error["details"]["liveMediaBuys"]) == sorted([live, waiting])
    assert db("SELECT id, status, updated_at FROM media_buys WHERE campaign_id = %s ORDER BY id",
              (campaign_id,)) == before
    assert client.get(f"/campaigns/{campaign_id}").json()["data"]["lifecycleStatus"] == "ACTIVE"


def test_a_draft_is_archived_and_another_advertisers_campaign_is_not_found(buyer, make_agent):
    client = buyer()
    agent = make_agent()
    draft = client.create(campaign_body(client.advertiser_id, [agent.agent_id]))["campaignId"]

    assert buyer().post(f"/campaigns/{draft}/archive").status_code == 404
    answer = client.post(f"/campaigns/{draft}/archive")

    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert (data["previousStatus"], data["newStatus"], data["status"], data["mediaBuyResults"]) == (
        "DRAFT", "ARCHIVED", "ARCHIVED", [])
    assert _ids(client.get("/campaigns")) == []
    # an archived campaign can't be executed any more
    assert client.post(f"/campaigns/{draft}/execute", json={}).status_code == 422
