"""Every way a webhook can fail to prove itself, per signature scheme, in one table each: the answer
is the error envelope with the reason, nothing is written, and the rejection is counted against the
agent in mediabuy_webhooks_received_total{agent, outcome="rejected", reason}."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from mediabuy_sync.adcp.signatures import hmac_headers
from security.helpers import assert_envelope, raw_post, webhook_counts
from support.rfc9421 import SigningKey
from support.webhooks import task_payload

JSON = {"Content-Type": "application/json"}


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# Each case: (agent, other agent, a valid body) -> (a request sent first and accepted, or None;
# the body; the headers). The valid body's buy does not exist: an accepted one would change nothing
# but the inbox, which is what the tests watch.


def _tampered_body(agent, other, body):
    return None, body.replace(b'"active"', b'"paused"'), agent.headers_for(body)


def _wrong_key(agent, other, body):
    return None, body, {**JSON, **hmac_headers(secrets.token_urlsafe(32), body, int(time.time()))}


def _other_agents_key(agent, other, body):
    return None, body, other.headers_for(body)


def _timestamp(offset):
    def case(agent, other, body):
        return None, body, agent.headers_for(body, int(time.time()) + offset)
    case.__name__ = f"_timestamp_{offset:+d}s"
    return case


def _tampered_timestamp(agent, other, body):
    headers = agent.headers_for(body)
    return None, body, {**headers, "X-AdCP-Timestamp": str(int(headers["X-AdCP-Timestamp"]) - 1)}


def _tampered_signature(agent, other, body):
    headers = agent.headers_for(body)
    digest = headers["X-AdCP-Signature"]
    return None, body, {**headers, "X-AdCP-Signature": digest[:-1] + ("0" if digest[-1] != "0" else "1")}


def _without(*names):
    def case(agent, other, body):
        return None, body, {k: v for k, v in agent.headers_for(body).items() if k not in names}
    case.__name__ = "_without_" + "_".join(names)
    return case


def _with(**replaced):
    def case(agent, other, body):
        headers = agent.headers_for(body)
        return None, body, {**headers, **{k.replace("_", "-"): v for k, v in replaced.items()}}
    case.__name__ = "_with_" + "_".join(f"{k}" for k in replaced)
    return case


def _not_json_content_type(agent, other, body):
    return None, body, {**agent.headers_for(body), "Content-Type": "text/plain"}


def _signed_body_that_is_not_json(agent, other, body):
    garbage = b"{not json" + body
    return None, garbage, agent.headers_for(garbage)


def _signed_invalid_payload(agent, other, body):
    invalid = body_of({**json.loads(body), "status": "bogus", "task_id": None})
    return None, invalid, agent.headers_for(invalid)


def _oversized(agent, other, body):
    big = body[:-1] + b',"pad":"' + b"x" * (1024 * 1024) + b'"}'
    return None, big, agent.headers_for(big)


def _idempotency_key_reused_for_another_payload(agent, other, body):
    changed = body_of({**json.loads(body), "status": "failed", "result": {}})
    return (body, agent.headers_for(body)), changed, agent.headers_for(changed)


def _same_signature_replayed(agent, other, body):
    headers = agent.headers_for(body)
    return (body, headers), body, headers


def _same_nonce_another_body(agent, other, body):
    nonce = "nonce-" + secrets.token_hex(8)
    changed = body_of({**json.loads(body), "idempotency_key": "evt_" + secrets.token_hex(12)})
    return (body, agent.headers_for(body, nonce=nonce)), changed, agent.headers_for(changed, nonce=nonce)


COMMON = [  # every scheme, the reason as web/ops.py counts it
    (_not_json_content_type, 415, "unsupported_media_type"),
    (_signed_body_that_is_not_json, 400, "not_json"),
    (_signed_invalid_payload, 400, "invalid_payload"),
    (_oversized, 413, "payload_too_large"),
    (_idempotency_key_reused_for_another_payload, 409, "conflict"),
]

HMAC_CASES = [
    (_tampered_body, 401, "webhook_signature_invalid"),
    (_tampered_signature, 401, "webhook_signature_invalid"),
    (_tampered_timestamp, 401, "webhook_signature_invalid"),
    (_wrong_key, 401, "webhook_signature_invalid"),
    (_other_agents_key, 401, "webhook_signature_invalid"),
    (_timestamp(-301), 401, "webhook_signature_window_invalid"),
    # +305, not +301: signed with whole seconds, checked a moment later against the float clock, +301 could
    # land inside the window by the time the web reads it (a CI run accepted it once)
    (_timestamp(+305), 401, "webhook_signature_window_invalid"),
    (_without("X-AdCP-Signature"), 401, "webhook_signature_required"),
    (_without("X-AdCP-Timestamp"), 401, "webhook_signature_required"),
    (_without("X-AdCP-Signature", "X-AdCP-Timestamp"), 401, "webhook_signature_required"),
    (_with(X_AdCP_Signature="sha1=00"), 401, "webhook_signature_header_malformed"),
    (_with(X_AdCP_Timestamp="yesterday"), 401, "webhook_signature_header_malformed"),
    *COMMON,
]

BEARER_CASES = [
    (_wrong_key, 401, "webhook_auth_required"),  # HMAC headers, no token
    (_other_agents_key, 401, "webhook_auth_invalid"),
    (_with(Authorization="Bearer " + "x" * 43), 401, "webhook_auth_invalid"),
    (_with(Authorization="Basic dXNlcjpwYXNz"), 401, "webhook_auth_required"),
    (_with(Authorization="Bearer "), 401, "webhook_auth_required"),
    (_without("Authorization"), 401, "webhook_auth_required"),
    *COMMON,
]


def _rfc_tampered_body(agent, other, body):
    return None, body.replace(b'"active"', b'"paused"'), agent.headers_for(body)


def _rfc_tampered_body_with_its_digest(agent, other, body):
    from mediabuy_sync.adcp.rfc9421 import content_digest

    tampered = body.replace(b'"active"', b'"paused"')
    return None, tampered, {**agent.headers_for(body), "Content-Digest": content_digest(tampered)}


def _rfc_wrong_key(agent, other, body):
    impostor = SigningKey.generate(kid=agent.keys[0].kid)  # the agent's kid, another private key
    return None, body, agent.headers_for(body, key=impostor)


def _rfc_other_agents_key(agent, other, body):
    return None, body, other.headers_for(body, url=agent.url)


def _rfc_created(offset):
    def case(agent, other, body):
        return None, body, agent.headers_for(body, int(time.time()) + offset)
    case.__name__ = f"_rfc_created_{offset:+d}s"
    return case


def _rfc_tampered_signature_input(agent, other, body):
    headers = agent.headers_for(body)
    return None, body, {**headers, "Signature-Input": headers["Signature-Input"].replace("created=", "created=1")}


RFC9421_CASES = [
    (_rfc_tampered_body, 401, "webhook_signature_digest_mismatch"),
    (_rfc_tampered_body_with_its_digest, 401, "webhook_signature_invalid"),
    (_rfc_tampered_signature_input, 401, None),  # malformed or out of window, depending on the digits
    (_rfc_wrong_key, 401, "webhook_signature_invalid"),
    (_rfc_other_agents_key, 401, "webhook_signature_key_unknown"),
    (_rfc_created(-400), 401, "webhook_signature_window_invalid"),
    (_rfc_created(+120), 401, "webhook_signature_window_invalid"),
    (_without("Signature"), 401, "webhook_signature_header_malformed"),
    (_without("Signature-Input"), 401, "webhook_signature_header_malformed"),
    (_without("Content-Digest"), 401, "webhook_signature_header_malformed"),
    (_without("Signature", "Signature-Input", "Content-Digest"), 401, "webhook_signature_header_malformed"),
    (_same_signature_replayed, 401, "webhook_signature_replayed"),
    (_same_nonce_another_body, 401, "webhook_signature_replayed"),
    # RFC 9421 checks the body is JSON itself (a duplicate key is malformed too), with its own reason
    *[(case, status, "webhook_body_malformed" if case is _signed_body_that_is_not_json else reason)
      for case, status, reason in COMMON],
]


def _check(agent, other, case, status, reason, stack, table_counts):
    body = body_of(task_payload("sa_nobody", "active"))
    first, body, headers = case(agent, other, body)
    if first is not None:
        accepted = agent.post(first[0], headers=first[1])
        assert accepted.status_code == 202, accepted.text
    before_counts = webhook_counts(stack["base_url"], agent.agent_id)
    before = table_counts()

    if case is _oversized:  # announced by Content-Length: refused before it is read, so send little of it
        answer = raw_post(agent.base_url, f"/webhooks/adcp/{agent.agent_id}", headers, body, pause_after=100)
    else:
        answer = agent.post(body, headers=headers)

    error = assert_envelope(answer, status)
    if status == 401:
        assert answer.headers["WWW-Authenticate"].endswith(f'error="{error["details"]["reason"]}"')
        if reason is not None:
            assert error["details"]["reason"] == reason
    assert table_counts() == before, "a rejected webhook wrote something"
    after_counts = webhook_counts(stack["base_url"], agent.agent_id)
    counted = {key: after_counts[key] - before_counts[key] for key in after_counts if after_counts[key] != before_counts[key]}
    expected_reason = reason or error["details"]["reason"]
    assert counted == {("rejected", expected_reason): 1}, counted


@pytest.mark.parametrize("case, status, reason", HMAC_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_hmac_rejections(make_agent, stack, table_counts, case, status, reason):
    _check(make_agent("hmac-sha256"), make_agent("hmac-sha256"), case, status, reason, stack, table_counts)


@pytest.mark.parametrize("case, status, reason", BEARER_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_bearer_rejections(make_agent, stack, table_counts, case, status, reason):
    _check(make_agent("bearer"), make_agent("bearer"), case, status, reason, stack, table_counts)


@pytest.mark.parametrize("case, status, reason", RFC9421_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_rfc9421_rejections(make_signed_agent, stack, table_counts, case, status, reason):
    _check(make_signed_agent(), make_signed_agent(), case, status, reason, stack, table_counts)


def test_an_unknown_agent_is_404_counted_as_unknown_never_as_its_name(make_agent, stack, table_counts):
    agent = make_agent()
    agent.agent_id = "agent_nobody_" + secrets.token_hex(3)
    before, before_unknown = table_counts(), webhook_counts(stack["base_url"], "unknown")

    assert_envelope(agent.post(task_payload("sa_x", "active")), 404, "NOT_FOUND")

    assert table_counts() == before
    assert webhook_counts(stack["base_url"], "unknown")[("rejected", "not_found")] == before_unknown[("rejected", "not_found")] + 1
    assert not webhook_counts(stack["base_url"], agent.agent_id), "an attacker created a label value"


def test_the_same_webhook_again_is_a_duplicate_that_writes_nothing(make_agent, stack, table_counts):
    agent = make_agent()
    body = body_of(task_payload("sa_nobody", "active"))
    assert agent.post(body).status_code == 202
    before = table_counts()
    again = agent.post(body)  # signed again (a retry): the same idempotency key
    assert again.status_code == 200 and again.json()["data"]["duplicate"] is True
    assert table_counts() == before
    assert webhook_counts(stack["base_url"], agent.agent_id)[("duplicate", "")] == 1
