"""Every error answer of the webhook endpoint: a clear JSON error, and nothing changed."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import pytest
import requests

from support.stack import wait_until
from support.webhooks import task_payload


@pytest.fixture
def ledger(db):
    """A snapshot of everything a webhook could change; compare before and after."""

    def snapshot():
        return (
            db("SELECT count(*) AS n FROM webhook_events")[0]["n"],
            db("SELECT count(*) AS n FROM status_changes")[0]["n"],
            db("SELECT string_agg(id || status, ',' ORDER BY id) AS s FROM media_buys")[0]["s"],
        )

    return snapshot


def assert_error(answer, status: int, code: str):
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    return error


@pytest.fixture
def agent_with_buy(make_agent, make_campaign):
    agent = make_agent()
    make_campaign([(agent, "sa_err", "PENDING_APPROVAL")])
    return agent


def test_unknown_agent_is_404(agent_with_buy, ledger):
    before = ledger()
    agent_with_buy.agent_id = "agent_nobody"
    assert_error(agent_with_buy.post(task_payload("sa_err", "active")), 404, "NOT_FOUND")
    assert ledger() == before


def test_only_a_post_to_the_route_itself_is_a_webhook(agent_with_buy, ledger, db):
    """web/ingress.py answers POSTs to the route before Flask; the rest is Flask's, in the same envelope."""
    before = ledger()
    body = json.dumps(task_payload("sa_err", "active")).encode()
    url = f"{agent_with_buy.base_url}/webhooks/adcp/{agent_with_buy.agent_id}"
    assert_error(requests.get(url, timeout=10), 405, "METHOD_NOT_ALLOWED")
    assert_error(requests.post(url + "/", data=body, headers=agent_with_buy.headers_for(body), timeout=10),
                 404, "NOT_FOUND")
    assert_error(requests.post(url + "/extra", data=body, headers=agent_with_buy.headers_for(body), timeout=10),
                 404, "NOT_FOUND")
    assert ledger() == before
    accepted = agent_with_buy.post(body, headers={**agent_with_buy.headers_for(body), "X-Request-ID": "rid-ingress-1"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["X-Request-ID"] == "rid-ingress-1"
    assert accepted.headers["Content-Type"] == "application/json"
    event_id = accepted.json()["data"]["event_id"]
    assert isinstance(event_id, int) and accepted.json()["error"] is None
    # applied before the next test takes its ledger snapshot
    wait_until(lambda: db("SELECT state FROM webhook_events WHERE id = %s", (event_id,))[0]["state"] == "processed",
               20, 0.1, "the accepted event processed")


# Every signature failure, per scheme, with the metrics counter: tests/security/test_signature_rejections.py.


def test_signature_rejection_says_so_in_www_authenticate(agent_with_buy):
    body = json.dumps(task_payload("sa_err", "active")).encode()
    answer = agent_with_buy.post(body, headers={"Content-Type": "application/json"})
    assert answer.headers["WWW-Authenticate"] == 'Signature error="webhook_signature_required"'


def test_non_json_content_type_is_415(agent_with_buy, ledger):
    before = ledger()
    body = json.dumps(task_payload("sa_err", "active")).encode()
    headers = {**agent_with_buy.headers_for(body), "Content-Type": "text/plain"}
    assert_error(agent_with_buy.post(body, headers=headers), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert ledger() == before


def test_a_body_over_1_mib_is_413_without_being_read(agent_with_buy, ledger):
    before = ledger()
    url = urlparse(agent_with_buy.base_url)
    # announce 2 MiB, send 10 bytes, and expect the answer without sending the rest
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(
            f"POST /webhooks/adcp/{agent_with_buy.agent_id} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n{{\"a\": 1, ".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _content_length(answer):
            answer += sock.recv(65536)
    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413"), head
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert ledger() == before


def _content_length(answer: bytes) -> int:
    head = answer.partition(b"\r\n\r\n")[0].decode()
    return next(int(line.split(":")[1]) for line in head.splitlines() if line.lower().startswith("content-length:"))


def test_a_chunked_body_over_1_mib_is_413(agent_with_buy, ledger):
    before = ledger()

    def chunks():
        for _ in range(40):
            yield b" " * 32768  # 1.25 MiB in all

    answer = requests.post(
        f"{agent_with_buy.base_url}/webhooks/adcp/{agent_with_buy.agent_id}",
        data=chunks(), headers={"Content-Type": "application/json"}, timeout=10,
    )
    assert_error(answer, 413, "PAYLOAD_TOO_LARGE")
    assert ledger() == before


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{}", b"[" * 100000 + b"]" * 100000,
                                  b'{"n": ' + b"9" * 5000 + b"}"],  # past Python's int-parsing limit (was a 500)
                         ids=["broken", "not utf-8", "deep", "long number"])
def test_a_body_that_is_not_json_is_400(agent_with_buy, ledger, body):
    before = ledger()
    assert_error(agent_with_buy.post(body), 400, "BAD_REQUEST")
    assert ledger() == before


def test_an_invalid_payload_is_400_naming_the_fields(agent_with_buy, ledger):
    before = ledger()
    payload = task_payload("sa_err", "bogus_status", key="short")
    del payload["task_id"]
    error = assert_error(agent_with_buy.post(payload), 400, "VALIDATION_ERROR")
    fields = error["details"]["fields"]
    assert {"idempotency_key", "task_id", "result"} <= set(fields)
    assert "media_buy_status" in fields["result"]
    assert ledger() == before


def test_a_reused_idempotency_key_with_another_payload_is_409(agent_with_buy, db, ledger):
    first = task_payload("sa_err", "active", key="evt_conflict_0000001")
    accepted = agent_with_buy.post(first)
    assert accepted.status_code == 202
    event_id = accepted.json()["data"]["event_id"]
    wait_until(lambda: db("SELECT state FROM webhook_events WHERE id = %s", (event_id,))[0]["state"] == "processed")
    before = ledger()
    second = {**first, "status": "failed", "result": {}}
    assert_error(agent_with_buy.post(second), 409, "CONFLICT")
    assert ledger() == before
