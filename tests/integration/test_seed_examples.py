"""The user's source page runs as written: every JSON object in ../shared/seeds/media-buy.md (or its copy
tests/seeds/media-buy.md on a clone with no shared/ beside it), read from the file itself, is used as the page says — the optimization goal inside a campaign's optimizationGoals,
each PUT body sent to a campaign executed over simulated agents (its placeholders mb_abc123, pkg_1, pkg_2
mapped to that campaign's buy and packages), the execute answer checked as the shape ours take.

The page is plain text (a rendered web page): its JSON objects are found by brace matching. Nothing here
is skipped: with shared/ beside the checkout the copy must equal it, and without it the copy is read.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests

from integration.test_buyer_actions import (  # noqa: F401 — fixtures: the simulator and our registrations
    DISPLAY, Client, agents, client, create, product, sim_buy, sim_process,
)
from support.stack import wait_until

ROOT = Path(__file__).resolve().parents[2]
SHARED_SEED = ROOT.parent / "shared" / "seeds" / "media-buy.md"
SEED_COPY = ROOT / "tests" / "seeds" / "media-buy.md"
SEED = SHARED_SEED if SHARED_SEED.is_file() else SEED_COPY

# The page's placeholders (its creative ids are used as they are: the campaign's manifest holds them)
BUY, PACKAGE_1, PACKAGE_2 = "mb_abc123", "pkg_1", "pkg_2"
VIDEO_15 = {"creativeId": "cr_video_15s", "format": "video_15s"}
VIDEO_30 = {"creativeId": "cr_video_30s", "format": "video_30s"}


def json_objects(text: str) -> list[dict]:
    """Every top-level {…} of the text that is JSON, in page order; a brace block that is not JSON fails."""
    found, depth, start, in_string, escaped = [], 0, None, False, False
    for i, ch in enumerate(text):
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
            continue
        if ch == '"' and depth:
            in_string = True
        elif ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                block = text[start:i + 1]
                try:
                    found.append(json.loads(block))
                except json.JSONDecodeError as exc:
                    raise AssertionError(f"a brace block of the seed page is not JSON ({exc}): {block[:200]}") from None
    assert depth == 0, "the seed page has an unclosed {"
    return found


def seed_examples() -> dict[str, list[dict]]:
    assert SEED_COPY.is_file(), f"the copy of the seed page {SEED_COPY} is missing"
    if SHARED_SEED.is_file():
        assert SEED_COPY.read_bytes() == SHARED_SEED.read_bytes(), (
            f"{SEED_COPY.relative_to(ROOT)} differs from {SHARED_SEED}: copy it again (see tests/seeds/README.md)")
    kinds: dict[str, list[dict]] = {"goal": [], "put": [], "execute_answer": []}
    for obj in json_objects(SEED.read_text(encoding="utf-8")):
        if "mediaBuys" in obj:
            kinds["put"].append(obj)
        elif obj.get("kind") in ("event", "metric"):
            kinds["goal"].append(obj)
        elif {"campaignId", "newStatus"} <= set(obj):
            kinds["execute_answer"].append(obj)
        else:
            raise AssertionError(f"a JSON example of the seed page this test does not know how to use: {obj}")
    return kinds


def test_the_page_has_the_examples_this_test_runs():
    kinds = seed_examples()
    # the page as it stands: one goal, three PUT bodies (update, cancel a package, creative_ids), one execute answer
    assert (len(kinds["goal"]), len(kinds["put"]), len(kinds["execute_answer"])) == (1, 3, 1), kinds
    assert json_objects('x {"a": {"b": "}"}} y {"c": [1, {"d": 2}]}') == [{"a": {"b": "}"}}, {"c": [1, {"d": 2}]}]
    with pytest.raises(AssertionError, match="not JSON"):
        json_objects("{ not json }")


def _placed(body: dict, buy_id: str, packages: dict[str, str]) -> dict:
    """The body with the page's placeholders replaced by this campaign's ids (nothing else changed)."""
    body = copy.deepcopy(body)
    for entry in body["mediaBuys"]:
        if entry.get("mediaBuyId") == BUY:
            entry["mediaBuyId"] = buy_id
        for change in entry.get("packages") or ():
            change["packageId"] = packages.get(change["packageId"], change["packageId"])
        if "packageIds" in entry:
            entry["packageIds"] = [packages.get(p, p) for p in entry["packageIds"]]
    return body


def agent_updates(agents, adcp_id: str) -> int:
    """How many update_media_buy the agent applied to this buy."""
    found = requests.get(f"{agents.base['act_a']}/_sim/updates", params={"media_buy_id": adcp_id}, timeout=5)
    return len(found.json()["updates"])


def _last_cascade_request(db, campaign_id: str) -> dict:
    [row] = db("SELECT ci.request FROM cascade_items ci JOIN cascades c ON c.id = ci.cascade_id "
               "WHERE c.campaign_id = %s ORDER BY c.id DESC LIMIT 1", (campaign_id,))
    return row["request"]


def test_every_example_of_the_page_runs_as_written(client: Client, agents, db):
    from mediabuy_sync.web.campaign_actions import ExecuteAnswer

    kinds = seed_examples()
    [goal] = kinds["goal"]
    # one buy at one agent, two packages: pkg_1 the video one (10000), pkg_2 the display one (20000)
    products = [product(agents.hmac, "video_premium", 10000, ["video_15s", "video_30s"]),
                product(agents.hmac, "display_ros", 20000, ["display_300x250"])]
    campaign_id = create(client, products, [DISPLAY, VIDEO_15, VIDEO_30], optimizationGoals=[goal])
    assert client.campaign(campaign_id)["optimizationGoals"] == [goal]
    executed = client.ok("POST", f"/campaigns/{campaign_id}/execute")
    assert executed["success"], executed

    # the page's execute answer is the shape ours take: its every field is one of ours, of our types
    [example] = kinds["execute_answer"]
    assert ExecuteAnswer().validate(example) == {}
    assert set(example) - {"errors"} <= set(executed)
    wait_until(lambda: [b["status"] for b in client.campaign(campaign_id)["mediaBuys"]] == ["ACTIVE"], 20,
               what="the agent to approve the buy")
    [buy] = client.buys(campaign_id).values()
    by_product = {p["productId"]: p["packageId"] for p in buy["packages"]}
    ids = {PACKAGE_1: by_product["video_premium"], PACKAGE_2: by_product["display_ros"]}

    update, cancel_package, creatives = kinds["put"]
    assert [e["action"] for b in kinds["put"] for e in b["mediaBuys"]] == ["update", "cancel", "update"]

    # the same with dryRun: the plan (goals, budgets, the agent's request), nothing changed, nothing sent
    counts = ("SELECT (SELECT count(*) FROM cascades WHERE campaign_id = %(c)s) AS cascades, "
              "(SELECT count(*) FROM status_changes) AS changes, "
              "(SELECT json_agg(p.budget ORDER BY p.id) FROM packages p JOIN media_buys b ON b.id = p.media_buy_id "
              " WHERE b.campaign_id = %(c)s) AS budgets, "
              "(SELECT json_agg(optimization_goals) FROM media_buys WHERE campaign_id = %(c)s) AS goals")
    rows_before, updates_before = db(counts, {"c": campaign_id}), agent_updates(agents, buy["adcpMediaBuyId"])
    planned = client.ok("PUT", f"/campaigns/{campaign_id}", {**_placed(update, buy["mediaBuyId"], ids), "dryRun": True})
    assert planned["dryRun"] and planned["cascades"] == [] and planned["status"] == "ACTIVE"
    [planned_buy] = planned["plan"]["mediaBuys"]
    assert planned_buy["optimizationGoals"] == {"before": [goal], "after": update["mediaBuys"][0]["optimization_goals"],
                                                "changed": True}
    assert planned_buy["status"] == {"before": "ACTIVE", "after": "ACTIVE"}
    assert {p["productId"]: p["budget"] for p in planned_buy["packages"]} == {
        "video_premium": {"before": 10000, "after": 15000}, "display_ros": {"before": 20000, "after": 15000}}
    [cascade] = planned["plan"]["cascades"]
    [request] = cascade["requests"]
    assert (cascade["kind"], request["task"], request["mediaBuyId"]) == ("update", "update_media_buy", buy["mediaBuyId"])
    assert sorted(p["budget"] for p in request["request"]["packages"]) == [15000, 15000]
    assert db(counts, {"c": campaign_id}) == rows_before
    assert agent_updates(agents, buy["adcpMediaBuyId"]) == updates_before
    # a dry run is refused exactly as the update would be
    bad = client.call("PUT", f"/campaigns/{campaign_id}", {"dryRun": True, "mediaBuys": [{"mediaBuyId": "mb_nope"}]})
    assert bad.status_code == 422 and "mediaBuys.0.mediaBuyId" in bad.json()["error"]["details"]["fields"]

    # update budget and optimization goals: no confirmation field; pkg_1's 15000 wins, pkg_2 scales into the rest
    answer = client.ok("PUT", f"/campaigns/{campaign_id}", _placed(update, buy["mediaBuyId"], ids))
    assert answer["success"] and answer["mediaBuyResults"][0]["status"] == "ACTIVE", answer
    assert agent_updates(agents, buy["adcpMediaBuyId"]) == updates_before + 1
    [buy] = client.buys(campaign_id).values()
    assert {p["productId"]: p["budget"] for p in buy["packages"]} == {"video_premium": 15000, "display_ros": 15000}
    [row] = db("SELECT optimization_goals FROM media_buys WHERE id = %s", (buy["mediaBuyId"],))
    assert row["optimization_goals"] == update["mediaBuys"][0]["optimization_goals"]
    sent = _last_cascade_request(db, campaign_id)
    sent_packages = {p["package_id"]: p for p in sent["packages"]}
    assert len(sent_packages) == 2 and {p["budget"] for p in sent_packages.values()} == {15000.0}
    assert all(p["optimization_goals"][0]["metric"] == "completed_views" for p in sent_packages.values())
    assert sent["ext"]["updated_reason"] == update["mediaBuys"][0]["updated_reason"]
    at_agent = {p["product_id"]: p for p in sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])["packages"]}
    assert {k: p["budget"] for k, p in at_agent.items()} == {"video_premium": 15000, "display_ros": 15000}
    assert at_agent["video_premium"]["pacing"] == "even"

    # override creative attachment: the page's two video creatives, on the video package
    answer = client.ok("PUT", f"/campaigns/{campaign_id}", _placed(creatives, buy["mediaBuyId"], ids))
    assert answer["success"], answer
    sent = {p["package_id"]: p["creative_assignments"] for p in _last_cascade_request(db, campaign_id)["packages"]}
    agent_ids = {p["product_id"]: p["package_id"] for p in sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])["packages"]}
    assert sent == {agent_ids["video_premium"]: [{"creative_id": "cr_video_15s"}, {"creative_id": "cr_video_30s"}],
                    agent_ids["display_ros"]: []}  # no display creative among the override's
    history = sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])["history"]
    assert {h["summary"] for h in history[:2]} == {f"{agent_ids['video_premium']}: 2 creatives",
                                                   f"{agent_ids['display_ros']}: 0 creatives"}
    [row] = db("SELECT creative_ids FROM media_buys WHERE id = %s", (buy["mediaBuyId"],))
    assert row["creative_ids"] == ["cr_video_15s", "cr_video_30s"]

    # cancel a single package: pkg_2 only, at the agent, the buy live
    answer = client.ok("PUT", f"/campaigns/{campaign_id}", _placed(cancel_package, buy["mediaBuyId"], ids))
    assert answer["success"], answer
    [buy] = client.buys(campaign_id).values()
    assert buy["status"] == "ACTIVE"
    assert {p["productId"]: p["status"] for p in buy["packages"]} == {"video_premium": "active", "display_ros": "canceled"}
    at_agent = {p["product_id"]: p for p in sim_buy(agents, agents.hmac, buy["adcpMediaBuyId"])["packages"]}
    assert (at_agent["display_ros"]["canceled"], at_agent["video_premium"]["canceled"]) == (True, False)


def test_delete_of_a_live_buy_cancels_it_at_the_agent_then_archives_it_in_one_action(client: Client, agents, db):
    products = [product(agents.hmac, "display_ros", 1000, ["display_300x250"]),
                product(agents.bearer, "video_premium", 1000, ["video_15s"])]
    campaign_id = create(client, products, [DISPLAY])
    assert client.ok("POST", f"/campaigns/{campaign_id}/execute")["success"]
    wait_until(lambda: {b["status"] for b in client.campaign(campaign_id)["mediaBuys"]} == {"ACTIVE"}, 20,
               what="the agents to approve the buys")
    buys = client.buys(campaign_id)
    gone, kept = buys[agents.hmac], buys[agents.bearer]
    body = {"mediaBuys": [{"mediaBuyId": gone["mediaBuyId"], "action": "delete"}]}

    # its dry run: the cancel the agent would get, nothing sent
    planned = client.ok("PUT", f"/campaigns/{campaign_id}", {**body, "dryRun": True})
    [cascade] = planned["plan"]["cascades"]
    [request] = cascade["requests"]
    assert request["mediaBuyId"] == gone["mediaBuyId"] and request["request"]["canceled"] is True
    assert sim_buy(agents, agents.hmac, gone["adcpMediaBuyId"])["status"] == "active"

    answer = client.ok("PUT", f"/campaigns/{campaign_id}", body)
    assert answer["success"] and answer["mediaBuyResults"] == [
        {"mediaBuyId": gone["mediaBuyId"], "salesAgentId": agents.hmac, "previousStatus": "ACTIVE",
         "status": "ARCHIVED", "success": True, "pending": False}], answer
    assert sim_buy(agents, agents.hmac, gone["adcpMediaBuyId"])["status"] == "canceled"
    buys = client.buys(campaign_id)
    assert (buys[agents.hmac]["status"], buys[agents.bearer]["status"]) == ("ARCHIVED", "ACTIVE")
    assert sim_buy(agents, agents.bearer, kept["adcpMediaBuyId"])["status"] == "active"
    steps = db("SELECT to_status FROM status_changes WHERE entity_id = %s AND outcome = 'applied' ORDER BY id",
               (gone["mediaBuyId"],))
    assert [s["to_status"] for s in steps][-2:] == ["CANCELED", "ARCHIVED"]
