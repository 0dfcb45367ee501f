"""The buyer API's campaigns: create a DRAFT, read it, list and page; every refusal is the envelope,
names the field, and stores nothing."""

from __future__ import annotations

import copy

import pytest
import requests

from support.buyer import API, campaign_body


@pytest.fixture
def agents(make_agent):
    return [make_agent().agent_id, make_agent().agent_id]


@pytest.fixture
def counts(db):
    """How many rows a create could have written; compare before and after."""

    def snapshot():
        return db("""SELECT (SELECT count(*) FROM campaigns) AS campaigns,
                            (SELECT count(*) FROM campaign_products) AS products,
                            (SELECT count(*) FROM campaign_creatives) AS creatives,
                            (SELECT count(*) FROM media_buys) AS buys""")[0]

    return snapshot


def assert_error(answer: requests.Response, status: int, code: str, field: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    document = answer.json()
    assert set(document) == {"data", "error"} and document["data"] is None
    error = document["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert error["field"] == field, error
        if code == "VALIDATION_ERROR":
            assert field in error["details"]["fields"], error
    return error


# --- create and read -----------------------------------------------------------------------------------


def test_create_answers_201_with_the_draft_campaign_and_stores_its_plan(buyer, agents, db):
    client = buyer()
    body = campaign_body(client.advertiser_id, agents)

    answer = client.post("/campaigns", json=body)

    assert answer.status_code == 201, answer.text
    assert answer.json()["error"] is None
    data = answer.json()["data"]
    assert answer.headers["Location"] == f"{API}/campaigns/{data['campaignId']}"
    assert data["campaignId"].startswith("cmp_") and data["status"] == data["lifecycleStatus"] == "DRAFT"
    assert (data["advertiserId"], data["name"]) == (client.advertiser_id, "Spring sale")
    assert data["budget"] == {"total": 10000, "currency": "USD", "dailyCap": 500.5, "pacing": "EVEN"}
    assert data["flightDates"] == {"startDate": "2027-03-01T00:00:00+00:00", "endDate": "2027-03-31T00:00:00+00:00"}
    video, display = data["products"]
    assert video == {
        "salesAgentId": agents[0], "productId": "prod_video", "budget": 6000, "pacing": "even", "bidPrice": 12.5,
        "pricingOptionId": "cpm_std", "formats": ["video_15s", "video_30s"],
        "pacingPeriods": [
            {"label": "first half", "startTime": "2027-03-01T00:00:00+00:00", "endTime": "2027-03-16T00:00:00+00:00",
             "budget": 3000},
            {"label": "second half", "startTime": "2027-03-16T00:00:00+00:00",
             "endTime": "2027-03-31T00:00:00+00:00"},
        ],
    }
    assert (display["salesAgentId"], display["budget"], display["pacing"], display["pacingPeriods"]) == (
        agents[1], 3999.99, None, [])
    assert data["creatives"] == [
        {"creativeId": "cr_banner", "format": "display_300x250", "name": None},
        {"creativeId": "cr_video_15s", "format": "video_15s", "name": "Teaser"},
    ]
    assert data["propertyList"] == body["propertyList"]
    assert data["frequencyCaps"] == body["frequencyCaps"]
    assert data["optimizationGoals"] == body["optimizationGoals"]
    # a DRAFT campaign has no media buys: execute makes them
    assert data["mediaBuys"] == []
    assert data["mediaBuyStatus"] == {"surfacedStatus": None, "blockers": [], "asOf": None}

    # what GET shows is what POST answered, and the rows are there
    assert client.get(f"/campaigns/{data['campaignId']}").json() == {"data": data, "error": None}
    products = db("SELECT sales_agent_id, product_id, position, budget::float AS budget, formats FROM campaign_products "
                  "WHERE campaign_id = %s ORDER BY position", (data["campaignId"],))
    assert [(p["sales_agent_id"], p["product_id"], p["position"], p["budget"]) for p in products] == [
        (agents[0], "prod_video", 0, 6000.0), (agents[1], "prod_display", 1, 3999.99)]
    assert db("SELECT count(*) AS n FROM campaign_creatives WHERE campaign_id = %s", (data["campaignId"],))[0]["n"] == 2


def test_optional_parts_may_be_left_out(buyer, agents):
    client = buyer()
    body = campaign_body(client.advertiser_id, agents, creatives=[])
    for optional in ("propertyList", "frequencyCaps", "optimizationGoals"):
        del body[optional]
    del body["budget"]["dailyCap"], body["budget"]["pacing"]

    data = client.create(body)

    assert (data["propertyList"], data["frequencyCaps"], data["optimizationGoals"], data["creatives"]) == (None, [], [], [])
    assert data["budget"] == {"total": 10000, "currency": "USD", "dailyCap": None, "pacing": None}


def test_get_shows_each_media_buy_with_its_packages_and_delivery(buyer, make_agent, make_campaign, db):
    agent = make_agent()
    client = buyer()
    campaign_id, (buy_id,) = make_campaign([(agent, "sa_pkg", "ACTIVE")], advertiser_id=client.advertiser_id)
    db("""INSERT INTO packages (id, media_buy_id, adcp_package_id, product_id, status, budget, currency, pacing,
                                bid_price, pacing_period, pacing_period_index, start_time, end_time,
                                impressions, spend, clicks)
          VALUES ('pkg_t1', %(buy)s, 'sa_pkg_1', 'prod_video', 'active', 1500.25, 'USD', 'even', 12.5,
                  '{"label": "first half"}', 0, '2027-03-01T00:00:00Z', '2027-03-16T00:00:00Z', 1200, 30.5, 7)""",
       {"buy": buy_id})
    db("UPDATE media_buys SET impressions = 1200, spend = 30.5, clicks = 7 WHERE id = %s", (buy_id,))

    data = client.get(f"/campaigns/{campaign_id}").json()["data"]

    [buy] = data["mediaBuys"]
    assert (buy["mediaBuyId"], buy["salesAgentId"], buy["adcpMediaBuyId"], buy["status"]) == (
        buy_id, agent.agent_id, "sa_pkg", "ACTIVE")
    assert buy["delivery"] == {"impressions": 1200, "spend": 30.5, "clicks": 7}
    assert buy["packages"] == [{
        "packageId": "pkg_t1", "adcpPackageId": "sa_pkg_1", "status": "active", "budget": 1500.25,
        "budgetCurrency": "USD", "pacing": "even", "bidPrice": 12.5, "productId": "prod_video",
        "pacingPeriod": {"index": 0, "label": "first half"},
        "startTime": "2027-03-01T00:00:00+00:00", "endTime": "2027-03-16T00:00:00+00:00",
        "delivery": {"impressions": 1200, "spend": 30.5, "clicks": 7},
    }]
    assert data["mediaBuyStatus"]["surfacedStatus"] == "ACTIVE" and data["mediaBuyStatus"]["blockers"] == [buy_id]
    # made by the CLI before plans existed: no flight, no budget
    assert (data["flightDates"], data["budget"], data["products"]) == (None, None, [])


# --- list -------------------------------------------------------------------------------------------------


@pytest.fixture
def five_campaigns(buyer, agents, db):
    """A fresh advertiser with five campaigns (the third ACTIVE), newest first; another advertiser with one."""
    client = buyer()
    ids = [client.create(campaign_body(client.advertiser_id, agents, name=f"c{i}"))["campaignId"] for i in range(5)]
    db("UPDATE campaigns SET status = 'ACTIVE' WHERE id = %s", (ids[2],))
    other = buyer()
    other.create(campaign_body(other.advertiser_id, agents))
    return client, ids[::-1]


def test_list_pages_by_cursor_newest_first(five_campaigns):
    client, newest_first = five_campaigns
    seen, cursor, pages = [], None, []
    while True:
        answer = client.get("/campaigns", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()["data"]
        pages.append(len(page["campaigns"]))
        seen += [c["campaignId"] for c in page["campaigns"]]
        assert page["pagination"]["total"] == 5 and page["pagination"]["limit"] == 2
        cursor = page["pagination"]["nextCursor"]
        assert page["pagination"]["hasMore"] is (cursor is not None)
        if cursor is None:
            break
    assert pages == [2, 2, 1]
    assert seen == newest_first
    summary = client.get("/campaigns", params={"limit": 1}).json()["data"]["campaigns"][0]
    assert set(summary) == {"campaignId", "advertiserId", "name", "status", "lifecycleStatus", "flightDates", "budget",
                            "mediaBuyStatus", "createdAt", "updatedAt"}


def test_list_pages_by_offset_and_filters_by_status(five_campaigns):
    client, newest_first = five_campaigns

    page = client.get("/campaigns", params={"limit": 2, "offset": 2}).json()["data"]
    assert [c["campaignId"] for c in page["campaigns"]] == newest_first[2:4]
    assert page["pagination"] == {"limit": 2, "offset": 2, "total": 5, "hasMore": True,
                                  "nextCursor": page["pagination"]["nextCursor"]}
    # a cursor from an offset page goes on from there
    after = client.get("/campaigns", params={"limit": 2, "cursor": page["pagination"]["nextCursor"]}).json()["data"]
    assert [c["campaignId"] for c in after["campaigns"]] == newest_first[4:]

    active = client.get("/campaigns", params={"lifecycleStatus": "ACTIVE"}).json()["data"]
    assert [c["campaignId"] for c in active["campaigns"]] == [newest_first[2]]
    assert active["pagination"]["total"] == 1 and active["pagination"]["hasMore"] is False
    assert client.get("/campaigns", params={"lifecycleStatus": "PAUSED"}).json()["data"]["campaigns"] == []
    # with no buys, a campaign reports its lifecycle: the same one by `status`
    reported = client.get("/campaigns", params={"status": "ACTIVE"}).json()["data"]
    assert [c["campaignId"] for c in reported["campaigns"]] == [newest_first[2]]


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"offset": -1}, "offset"),
    ({"status": "RUNNING"}, "status"),
    ({"lifecycleStatus": "INPUT_REQUIRED"}, "lifecycleStatus"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "WyJ4IiwgMV0"}, "cursor"),  # base64 of a JSON list that is not ours
    ({"cursor": "WyIyMDI3LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgImNtcF94Il0", "offset": 2}, "offset"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_list_queries_are_422_naming_the_parameter(buyer, params, field):
    error = assert_error(buyer().get("/campaigns", params=params), 422, "VALIDATION_ERROR", field)
    assert error["details"]["location"] == "query"


# --- every refusal: the envelope, the field, nothing stored ---------------------------------------------------


def _set(path: str, value):
    """A change to a valid body: set (or, with value ..., delete) the value at a dotted path."""

    def change(body: dict) -> None:
        *parents, last = path.split(".")
        node = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is ...:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _append(path: str, item):
    def change(body: dict) -> None:
        node = body
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        node.append(copy.deepcopy(item) if not callable(item) else item(body))

    return change


INVALID = {
    "name missing": (_set("name", ...), "name"),
    "name empty": (_set("name", ""), "name"),
    "name with a NUL": (_set("name", "Spring\x00sale"), "name"),
    "unknown field": (_set("colour", "blue"), "colour"),
    "unknown nested field": (_set("budget.colour", "blue"), "budget.colour"),
    "advertiserId not a string": (_set("advertiserId", 7), "advertiserId"),
    "flight ends before it starts": (_set("flightDates.endDate", "2027-02-01T00:00:00Z"), "flightDates.endDate"),
    "start not a date-time": (_set("flightDates.startDate", "next monday"), "flightDates.startDate"),
    "start without an offset": (_set("flightDates.startDate", "2027-03-01T00:00:00"), "flightDates.startDate"),
    "flight missing": (_set("flightDates", ...), "flightDates"),
    "total zero": (_set("budget.total", 0), "budget.total"),
    "total negative": (_set("budget.total", -5), "budget.total"),
    "total as a string": (_set("budget.total", "10000"), "budget.total"),
    "total in fractions of a cent": (_set("budget.total", 100.001), "budget.total"),
    "total too large": (_set("budget.total", 1e15), "budget.total"),
    "currency lower case": (_set("budget.currency", "usd"), "budget.currency"),
    "currency of 4 letters": (_set("budget.currency", "USDX"), "budget.currency"),
    "budget pacing unknown": (_set("budget.pacing", "SLOW"), "budget.pacing"),
    "daily cap over the total": (_set("budget.dailyCap", 20000), "budget.dailyCap"),
    "no products": (_set("products", []), "products"),
    "products not a list": (_set("products", {"a": 1}), "products"),
    "product pacing in campaign case": (_set("products.0.pacing", "EVEN"), "products.0.pacing"),
    "product budget missing": (_set("products.1.budget", ...), "products.1.budget"),
    "product without formats": (_set("products.1.formats", []), "products.1.formats"),
    "sales agent id of bad characters": (_set("products.0.salesAgentId", "agent x/y"), "products.0.salesAgentId"),
    "sales agent not registered": (_set("products.1.salesAgentId", "agent_unknown"), "products.1.salesAgentId"),
    "bid price with 5 decimals": (_set("products.0.bidPrice", 1.00001), "products.0.bidPrice"),
    "pacing period outside the flight": (_set("products.0.pacingPeriods.1.endTime", "2027-04-30T00:00:00Z"),
                                         "products.0.pacingPeriods.1"),
    "pacing period ends before it starts": (_set("products.0.pacingPeriods.0.endTime", "2027-03-01T00:00:00Z"),
                                            "products.0.pacingPeriods.0"),
    "pacing periods over the product budget": (_set("products.0.pacingPeriods.1.budget", 3000.01),
                                               "products.0.pacingPeriods"),
    "the same product twice": (_append("products", lambda b: dict(b["products"][1], budget=1)), "products.2.productId"),
    "no creatives field": (_set("creatives", ...), "creatives"),
    "the same creative twice": (_append("creatives", {"creativeId": "cr_banner", "format": "display_300x250"}),
                                "creatives.2.creativeId"),
    "creative in a format no product accepts": (_set("creatives.1.format", "audio_30s"), "creatives.1.format"),
    "frequency cap per month": (_set("frequencyCaps.0.per", "month"), "frequencyCaps.0.per"),
    "frequency cap of zero": (_set("frequencyCaps.0.maxImpressions", 0), "frequencyCaps.0.maxImpressions"),
    "frequency cap of 2.5": (_set("frequencyCaps.0.maxImpressions", 2.5), "frequencyCaps.0.maxImpressions"),
    "property list not an object": (_set("propertyList", ["example.com"]), "propertyList"),
    "metric goal with an events-only target": (_set("optimizationGoals.1.target.kind", "per_ad_spend"),
                                               "optimizationGoals.1"),
    "goal on an unknown metric": (_set("optimizationGoals.1.metric", "vibes"), "optimizationGoals.1.metric"),
    "event goal without sources": (_set("optimizationGoals.0.event_sources", []), "optimizationGoals.0"),
    "maximize_value with a value": (_set("optimizationGoals.0.target", {"kind": "maximize_value", "value": 3}),
                                    "optimizationGoals.0"),
}


@pytest.mark.parametrize("change, field", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_body_is_422_naming_the_field_and_stores_nothing(buyer, agents, counts, change, field):
    client = buyer()
    body = campaign_body(client.advertiser_id, agents)
    change(body)
    before = counts()

    error = assert_error(client.post("/campaigns", json=body), 422, "VALIDATION_ERROR", field)

    assert error["details"]["location"] == "body"
    assert counts() == before


def test_every_bad_field_is_named_in_one_answer(buyer, agents, counts):
    client = buyer()
    body = campaign_body(client.advertiser_id, agents, name="", colour="blue")
    body["budget"]["currency"] = "usd"
    body["products"][0]["pacing"] = "EVEN"
    body["creatives"][1]["format"] = "audio_30s"
    before = counts()

    error = assert_error(client.post("/campaigns", json=body), 422, "VALIDATION_ERROR")

    assert set(error["details"]["fields"]) == {"name", "colour", "budget.currency", "products.0.pacing",
                                               "creatives.1.format"}
    assert error["field"] in error["details"]["fields"]
    assert counts() == before


def test_products_over_the_budget_are_409_insufficient_media_budget(buyer, agents, counts):
    client = buyer()
    body = campaign_body(client.advertiser_id, agents)
    body["products"][1]["budget"] = 4000.01  # 6000 + 4000.01 > 10000
    before = counts()

    error = assert_error(client.post("/campaigns", json=body), 409, "INSUFFICIENT_MEDIA_BUDGET", "products")

    assert error["details"] == {"allocated": 10000.01, "total": 10000, "excess": 0.01}
    assert counts() == before


@pytest.mark.parametrize("data, content_type, status, code", [
    (b'{"name": ', "application/json", 400, "BAD_REQUEST"),
    (b'{"budget": {"total": NaN}}', "application/json", 400, "BAD_REQUEST"),
    (b'{"budget": {"total": 1e999}}', "application/json", 400, "BAD_REQUEST"),
    (b'\xff\xfe', "application/json", 400, "BAD_REQUEST"),
    (b"[" * 100_000, "application/json", 400, "BAD_REQUEST"),
    (b'{"name": "x"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"", "application/json", 422, "VALIDATION_ERROR"),  # no body: each required field is missing
    (b"[]", "application/json", 422, "VALIDATION_ERROR"),
    (b'"\\ud800"', "application/json", 422, "VALIDATION_ERROR"),
])
def test_a_body_that_is_not_a_json_object_is_refused_and_stores_nothing(buyer, counts, data, content_type, status, code):
    before = counts()
    assert_error(buyer().post("/campaigns", data=data, headers={"Content-Type": content_type}), status, code)
    assert counts() == before


def test_a_body_over_the_size_limit_is_413(buyer, agents, counts):
    client = buyer()
    body = campaign_body(client.advertiser_id, agents, propertyList={"padding": "x" * (1024 * 1024)})
    before = counts()
    assert_error(client.post("/campaigns", json=body), 413, "PAYLOAD_TOO_LARGE")
    assert counts() == before


def test_another_advertisers_id_is_403(buyer, agents, counts):
    client = buyer()
    before = counts()

    assert_error(client.post("/campaigns", json=campaign_body("adv_someone_else", agents)), 403, "FORBIDDEN",
                 "advertiserId")

    assert counts() == before


# --- across advertisers, and without a key ------------------------------------------------------------------


def test_another_advertisers_campaign_is_404_like_one_that_does_not_exist(buyer, agents):
    owner, stranger = buyer(), buyer()
    campaign_id = owner.create(campaign_body(owner.advertiser_id, agents))["campaignId"]

    theirs = assert_error(stranger.get(f"/campaigns/{campaign_id}"), 404, "NOT_FOUND")
    missing = assert_error(stranger.get("/campaigns/cmp_0000000000000000"), 404, "NOT_FOUND")

    assert theirs["message"].replace(campaign_id, "ID") == missing["message"].replace("cmp_0000000000000000", "ID")
    assert_error(stranger.get(f"/campaigns/{campaign_id}/media-buy-status"), 404, "NOT_FOUND")
    assert stranger.get("/campaigns").json()["data"]["campaigns"] == []
    assert owner.get(f"/campaigns/{campaign_id}").status_code == 200


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "Bearer mbsk_nope"])
@pytest.mark.parametrize("method, path", [("GET", "/campaigns"), ("GET", "/campaigns/cmp_x"), ("POST", "/campaigns"),
                                          ("GET", "/campaigns/cmp_x/media-buy-status")])
def test_no_valid_key_is_401(stack, agents, counts, authorization, method, path):
    headers = {} if authorization is None else {"Authorization": authorization}
    before = counts()

    answer = requests.request(method, stack["base_url"] + API + path, headers=headers, timeout=10,
                              json=campaign_body("adv_test", agents) if method == "POST" else None)

    assert_error(answer, 401, "UNAUTHORIZED")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert counts() == before
