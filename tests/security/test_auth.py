"""Authentication and tenancy over every operation /openapi.json documents with a security scheme:
missing, malformed and wrong credentials are 401; the admin token is no API key and an API key no
admin token; another advertiser's campaign is 404 with the very answer of one that does not exist
(so nothing tells whether it exists); and none of it writes anything."""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from security.helpers import assert_envelope

ADMIN_TOKEN = "test-admin-token-of-at-least-32-bytes"  # tests/conftest.py
METHODS = {"get", "post", "put", "patch", "delete"}
# A body each operation accepts, so the answer is decided by who asks, not by what is sent.
BODIES = {
    ("put", "/api/v2/buyer/campaigns/{campaign_id}"): {"name": "renamed by someone else"},
    ("post", "/api/v2/buyer/campaigns/{campaign_id}/execute"): {},
    ("put", "/api/v2/buyer/advertisers/{advertiser_id}/frequency-caps"): {"frequencyCaps": []},
    ("post", "/admin/events/replay"): {"event_ids": [1]},
}


@pytest.fixture(scope="module")
def secured_operations(stack) -> list[tuple[str, str, str]]:
    """(method, path, "buyer" | "admin") of every operation that declares a security scheme."""
    document = requests.get(stack["base_url"] + "/openapi.json", timeout=10).json()
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS and operation.get("security"):
                schemes = {name for requirement in operation["security"] for name in requirement}
                operations.append((method, path, "admin" if schemes == {"adminToken"} else "buyer"))
    assert {kind for *_, kind in operations} == {"buyer", "admin"}
    return operations


@pytest.fixture
def world(make_agent, make_campaign, api_key):
    """Two advertisers: ours (with a key) and theirs (with a campaign we must not see)."""
    ours, theirs = "adv_" + secrets.token_hex(4), "adv_" + secrets.token_hex(4)
    their_campaign, _ = make_campaign([(make_agent(), "sa_" + secrets.token_hex(3), "ACTIVE")], advertiser_id=theirs)
    return {"our_key": api_key(ours), "ours": ours, "theirs": theirs, "their_campaign": their_campaign}


def _url(stack, path: str, **values) -> str:
    defaults = {"campaign_id": "cmp_nonexistent", "advertiser_id": "adv_nonexistent", "kind": "campaigns",
                "target_id": "cmp_nonexistent", "run_id": "999999999", "agent_id": "agent_nonexistent",
                "credential_id": "999999999", "key_id": "key_nonexistent", "media_buy_id": "mb_nonexistent",
                "subscription_id": "whsub_nonexistent", "delivery_id": "999999999"}
    return stack["base_url"] + re.sub(r"{(\w+)}", lambda m: str(values.get(m[1], defaults[m[1]])), path)


def _call(stack, method, path, authorization=None, **values):
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = BODIES.get((method, path))
    return requests.request(method, _url(stack, path, **values), headers=headers, timeout=30,
                            json=body if body is not None else None)


def test_without_or_with_wrong_credentials_every_secured_operation_is_401(stack, secured_operations, world,
                                                                          table_counts):
    before = table_counts()
    wrong = {
        "missing": None,
        "empty": "",
        "not bearer": "Basic " + "dXNlcjpwYXNz",
        "bearer without a token": "Bearer ",
        "unknown token": "Bearer mbk_" + secrets.token_urlsafe(32),
        "a long token": "Bearer " + "x" * 4000,
    }
    for method, path, kind in secured_operations:
        cases = dict(wrong)
        # the other credential is no credential here
        cases["the other kind"] = f"Bearer {ADMIN_TOKEN}" if kind == "buyer" else f"Bearer {world['our_key']}"
        for name, authorization in cases.items():
            answer = _call(stack, method, path, authorization)
            assert_envelope(answer, 401, "UNAUTHORIZED")
            assert answer.headers["WWW-Authenticate"].startswith("Bearer"), (method, path, name)
    assert table_counts() == before


def test_another_advertisers_campaign_answers_as_one_that_does_not_exist(stack, secured_operations, world,
                                                                         table_counts):
    before = table_counts()
    ours = f"Bearer {world['our_key']}"
    by_campaign = [(method, path) for method, path, _ in secured_operations if "{campaign_id}" in path]
    assert len(by_campaign) >= 6, by_campaign
    missing_id = "cmp_" + secrets.token_hex(8)
    for method, path in by_campaign:
        theirs = _call(stack, method, path, ours, campaign_id=world["their_campaign"])
        nothing = _call(stack, method, path, ours, campaign_id=missing_id)
        assert_envelope(theirs, 404, "NOT_FOUND")
        assert_envelope(nothing, 404, "NOT_FOUND")
        # byte for byte, but for the id asked about
        assert theirs.text.replace(world["their_campaign"], "<id>") == nothing.text.replace(missing_id, "<id>"), (method, path)
        assert {k: v for k, v in theirs.headers.items() if k not in ("Date", "X-Request-ID")} == \
            {k: v for k, v in nothing.headers.items() if k not in ("Date", "X-Request-ID")}
    assert table_counts() == before


def test_another_advertisers_frequency_caps_answer_as_an_unknown_advertisers(stack, world, table_counts):
    before = table_counts()
    path = "/api/v2/buyer/advertisers/{advertiser_id}/frequency-caps"
    theirs = _call(stack, "put", path, f"Bearer {world['our_key']}", advertiser_id=world["theirs"])
    unknown = _call(stack, "put", path, f"Bearer {world['our_key']}", advertiser_id="adv_" + secrets.token_hex(4))
    assert_envelope(theirs, 403, "FORBIDDEN")
    assert theirs.text == unknown.text
    assert table_counts() == before


def test_the_campaign_list_shows_ours_only(stack, world):
    answer = requests.get(stack["base_url"] + "/api/v2/buyer/campaigns",
                          headers={"Authorization": f"Bearer {world['our_key']}"}, timeout=10)
    assert answer.status_code == 200
    assert world["their_campaign"] not in answer.text


def test_admin_endpoints_answer_403_while_no_admin_token_is_configured(strict_web):
    for authorization in (None, "Bearer ", f"Bearer {ADMIN_TOKEN}"):
        headers = {"Authorization": authorization} if authorization is not None else {}
        answer = requests.get(strict_web + "/admin/events/dead", headers=headers, timeout=10)
        assert_envelope(answer, 403, "FORBIDDEN")
