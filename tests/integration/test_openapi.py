"""/openapi.json documents the whole HTTP surface, /docs shows it, and the live server keeps to it:
schemathesis sends what the document allows (and what it forbids) and finds no 5xx and no error that
is not the envelope."""

from __future__ import annotations

import html
import os
import re
import secrets
from collections import Counter

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate

from mediabuy_sync import config
from mediabuy_sync.web import create_app
from support.rows import row_counter
from support.stack import OUTPUT

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
ADMIN_TOKEN = "test-admin-token-of-at-least-32-bytes"  # tests/conftest.py
FUZZ_ADVERTISER = "adv_fuzz"


@pytest.fixture(scope="module")
def document(stack) -> dict:
    answer = requests.get(stack["base_url"] + "/openapi.json", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    return answer.json()


def test_the_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_the_app_has_is_documented_and_nothing_else(document, monkeypatch):
    # the app refuses to be made without its public URL (web/__init__.check_settings); this process's
    # settings are read afresh with one, then forgotten again for the tests after
    monkeypatch.setenv("MEDIABUY_PUBLIC_BASE_URL", "http://127.0.0.1:1")
    config.settings.cache_clear()
    try:
        app = create_app()
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()
    routes = {(_openapi_path(rule.rule), method.lower())
              for rule in app.url_map.iter_rules() for method in rule.methods & METHODS}
    documented = {(path, method) for path, item in document["paths"].items() for method in item
                  if method.upper() in METHODS}

    assert routes == documented
    for path, method in documented:
        operation = document["paths"][path][method]
        assert operation.get("summary"), f"{method} {path} has no summary"
        assert any(status.startswith("2") for status in operation["responses"]), f"{method} {path}: no 2xx"


def test_buyer_and_admin_operations_say_how_to_authenticate(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith(("/api/v2/buyer", "/admin")) and method.upper() in METHODS:
                assert operation["security"], f"{method} {path}"
                assert "401" in operation["responses"], f"{method} {path}"


def test_the_request_schemas_reject_unknown_fields(document):
    body = document["paths"]["/api/v2/buyer/campaigns"]["post"]["requestBody"]["content"]["application/json"]
    create = document["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert create["additionalProperties"] is False
    assert {"advertiserId", "name", "flightDates", "budget", "products", "creatives"} <= set(create["required"])


def test_the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(stack, document):
    answer = requests.get(stack["base_url"] + "/docs", timeout=10)

    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    page = html.unescape(answer.text)
    for path, item in document["paths"].items():
        assert path in page
        for method, operation in item.items():
            if method.upper() in METHODS:
                assert operation["summary"] in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=["']?(https?:)?//""", page, re.I)


# --- the live server against its own document ---------------------------------------------------------------

SENT: list[tuple[str, str, int]] = []
# Per operation and mode: 25 in CI; MEDIABUY_FUZZ_HEAVY=1 for 250 (about 10,000 requests in all);
# MEDIABUY_FUZZ_EXAMPLES=N for N; MEDIABUY_FUZZ_RANDOM=1 for a new search rather than CI's fixed one.
EXAMPLES = int(os.environ.get("MEDIABUY_FUZZ_EXAMPLES", "250" if os.environ.get("MEDIABUY_FUZZ_HEAVY") else "25"))


def _query(sql: str, params: dict | None = None) -> list[dict]:
    from mediabuy_sync.store.db import transaction

    with transaction() as conn:
        return conn.execute(sql, params).fetchall()


@schemathesis.check
def errors_are_the_envelope(ctx, response, case):
    """Every 4xx/5xx answer is JSON: {"data": null, "error": {"code", "message", …}}."""
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), "an error that is not JSON"
    document = response.json()
    assert isinstance(document, dict) and document.get("data", "missing") is None, f"not the envelope: {document}"
    error = document.get("error")
    assert isinstance(error, dict) and error.get("code") and error.get("message"), f"not the envelope: {document}"
    return None


@pytest.fixture(scope="module")
def live_schema(stack):
    checks = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_schema_conformance", "response_headers_conformance", "negative_data_rejection")
    config = schemathesis.Config.from_dict({"checks": {"enabled": False, **{name: {"enabled": True} for name in checks}}})
    return schemathesis.openapi.from_url(stack["base_url"] + "/openapi.json", config=config)


@pytest.fixture(scope="module")
def world(database):
    """What the fuzzing is aimed at: the credentials, a registered agent, and a campaign of the fuzzing
    advertiser with a media buy and a package."""
    from mediabuy_sync.store import agents, api_keys
    from mediabuy_sync.store.campaigns import NewBuy, create_campaign
    from mediabuy_sync.store.db import transaction

    agent_id = "agent_fuzz_" + secrets.token_hex(3)
    with transaction() as conn:
        key = api_keys.create_key(conn, FUZZ_ADVERTISER)[1]
        agents.add_agent(conn, agent_id, agent_id, "http://127.0.0.1:9/mcp", "hmac-sha256")
        agents.add_secret(conn, agent_id, "hmac-sha256", secrets.token_urlsafe(32))
        # a DRAFT buy: not polled, so media-buy-status answers without calling an agent
        campaign_id, (buy_id,) = create_campaign(conn, FUZZ_ADVERTISER, "fuzzed", [NewBuy(agent_id, "sa_fuzz")])
        conn.execute("INSERT INTO packages (id, media_buy_id, product_id, budget, currency, pacing_period) "
                     "VALUES (%s, %s, 'prod_fuzz', 100, 'USD', '{\"label\": \"all\"}')", ("pkg_" + buy_id, buy_id))
    return {"agent_id": agent_id, "path_parameters": {"campaign_id": campaign_id, "agent_id": agent_id},
            "authorization": {"/api/v2/buyer": f"Bearer {key}", "/admin": f"Bearer {ADMIN_TOKEN}"}}


def _aim(world: dict):
    """Positive cases pass the schema, yet nearly all would stop at 'not your advertiser' or 'no such
    agent': point them at what exists, so they reach the code behind those checks."""

    def aim(case):
        if isinstance(case.body, dict):
            # an agent registered by the fuzzer is fetched from (its JWKS) or called on this machine only
            for field, local in (("jwks_uri", "http://127.0.0.1:9/jwks.json"), ("endpoint", "http://127.0.0.1:9/mcp")):
                if field in case.body:
                    case.body[field] = local
        if isinstance(case.body, dict) and "advertiserId" in case.body:
            case.body["advertiserId"] = FUZZ_ADVERTISER
            for product in case.body.get("products") or []:
                if isinstance(product, dict):
                    product["salesAgentId"] = world["agent_id"]
        return case

    return aim


def _changes_nothing(operation) -> bool:
    # a webhook without a valid signature is refused before anything is read
    return operation.method.upper() == "GET" or operation.path.startswith("/webhooks/")


def test_the_live_server_keeps_to_its_document(live_schema, world):
    """EXAMPLES positive and EXAMPLES negative cases per operation. (schemathesis's pytest plugin reads
    request.node._nodeid, which pytest 9 no longer has, so its strategies are driven here.)
    Derandomized, so CI sees the same cases every run; MEDIABUY_FUZZ_RANDOM=1 explores new ones."""
    failures = []
    for result in live_schema.get_all_operations():
        operation = result.ok()
        authorization = next((value for prefix, value in world["authorization"].items()
                              if operation.path.startswith(prefix)), None)
        # Aimed only where a call changes nothing: the same case must answer the same every time
        # (hypothesis replays it), which a pause or an execute of a shared campaign would not.
        names = {p.name for p in operation.path_parameters} if _changes_nothing(operation) else set()
        fixed = {name: value for name, value in world["path_parameters"].items() if name in names}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.POSITIVE:
                strategy = st.one_of(
                    operation.as_strategy(mode, path_parameters=fixed),
                    *live_schema.get_strategies_from_examples(operation),  # the documented examples, too
                ).map(_aim(world))
            else:
                strategy = operation.as_strategy(mode)

            @given(case=strategy)
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                      derandomize=not os.environ.get("MEDIABUY_FUZZ_RANDOM"))
            def call(case):
                # The generated credentials become real ones; a negative case that dropped the
                # header keeps it dropped (and must be refused).
                if authorization and "Authorization" in (case.headers or {}):
                    case.headers["Authorization"] = authorization
                row_counts = row_counter(_query)
                before = row_counts()
                response = case.call_and_validate(additional_checks=[errors_are_the_envelope], timeout=15)
                SENT.append((case.method, case.path, response.status_code))
                if response.status_code >= 400:  # refused: nothing written
                    after = row_counts()
                    assert after == before, f"{response.status_code} but rows changed: " + \
                        str({t: (before[t], after[t]) for t in before if before[t] != after[t]})

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report every operation's failure
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    assert not failures, "\n\n".join(failures)


def test_schemathesis_reached_every_operation(document):
    """Runs after the fuzzing above (file order): it called every documented operation (but the
    document itself, which schemathesis does not test)."""
    reached = {(method.lower(), path) for method, path, _ in SENT} | {("get", "/openapi.json")}
    documented = {(method, path) for path, item in document["paths"].items() for method in item
                  if method.upper() in METHODS}
    assert reached == documented, documented - reached
    assert not [s for *_, s in SENT if s >= 500]
    line = f"schemathesis: {len(SENT)} requests, {sum(s >= 500 for *_, s in SENT)} answered 5xx"
    print("\n" + line)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT / "fuzz.txt", "a") as out:  # kept with the run's logs, so a CI run's figures can be quoted
        out.write(line + "\n")
    for (method, path), statuses in sorted(Counter((m, p) for m, p, _ in SENT).items()):
        print(f"  {method} {path}: {statuses} —", dict(sorted(Counter(s for m, p, s in SENT if (m, p) == (method, path)).items())))
