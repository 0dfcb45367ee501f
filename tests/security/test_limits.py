"""Limits of the webhook endpoint, on a web of their own (tests/security/conftest.py STRICT): the
per-agent rate limit (a noisy agent gets 429s, a quiet one in the same window does not), a body that
dribbles in (408), and request line and header limits (414, 431) — each the JSON envelope."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from security.conftest import STRICT
from security.helpers import assert_envelope, raw_post, webhook_counts
from support.webhooks import task_payload


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def test_a_noisy_agent_is_rate_limited_and_a_quiet_one_is_not(make_agent, strict_web, db):
    noisy, quiet = make_agent(base_url=strict_web), make_agent(base_url=strict_web)
    burst = int(STRICT["MEDIABUY_WEBHOOK_BURST_PER_AGENT"])

    def send(sender):
        return sender.post(task_payload("sa_nobody", "active"))

    # The noisy agent sends four times its burst at once; the quiet one sends a few meanwhile.
    with ThreadPoolExecutor(8) as pool:
        noisy_answers = pool.map(lambda _: send(noisy), range(4 * burst))
        quiet_answers = [send(quiet) for _ in range(3)]
        noisy_answers = list(noisy_answers)

    assert [a.status_code for a in quiet_answers] == [202, 202, 202]
    limited = [a for a in noisy_answers if a.status_code == 429]
    accepted = [a for a in noisy_answers if a.status_code == 202]
    assert limited and accepted and len(limited) + len(accepted) == len(noisy_answers), \
        sorted(a.status_code for a in noisy_answers)
    for answer in limited:
        error = assert_envelope(answer, 429, "RATE_LIMITED")
        assert int(answer.headers["Retry-After"]) >= 1
        assert error["details"]["reason"] == "rate_limited"
    # what was refused was not stored; what was accepted was
    stored = db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (noisy.agent_id,))[0]["n"]
    assert stored == len(accepted)
    counts = webhook_counts(strict_web, noisy.agent_id)
    assert counts[("rejected", "rate_limited")] == len(limited)
    assert counts[("accepted", "")] == len(accepted)
    assert not webhook_counts(strict_web, quiet.agent_id)[("rejected", "rate_limited")]


def test_after_retry_after_the_agent_is_accepted_again(make_agent, strict_web):
    agent = make_agent(base_url=strict_web)
    answers = [agent.post(task_payload("sa_nobody", "active")) for _ in range(int(STRICT["MEDIABUY_WEBHOOK_BURST_PER_AGENT"]) + 3)]
    refused = next(a for a in answers if a.status_code == 429)
    time.sleep(int(refused.headers["Retry-After"]))
    assert agent.post(task_payload("sa_nobody", "active")).status_code == 202


def test_a_stranger_cannot_spend_an_agents_budget(make_agent, strict_web):
    agent = make_agent(base_url=strict_web)
    body = body_of(task_payload("sa_nobody", "active"))
    bad = {**agent.headers_for(body), "X-AdCP-Signature": "sha256=" + "0" * 64}
    for _ in range(3 * int(STRICT["MEDIABUY_WEBHOOK_BURST_PER_AGENT"])):
        assert agent.post(body, headers=bad).status_code == 401
    assert agent.post(task_payload("sa_nobody", "active")).status_code == 202


def test_a_body_that_dribbles_in_is_408_and_stores_nothing(make_agent, strict_web, db):
    agent = make_agent(base_url=strict_web)
    body = body_of(task_payload("sa_nobody", "active"))
    # announce the whole body, send half of it, then nothing: the answer comes at the deadline
    answer = raw_post(strict_web, f"/webhooks/adcp/{agent.agent_id}", agent.headers_for(body), body,
                      pause_after=len(body) // 2, timeout=20, wait_for_close=True)

    error = assert_envelope(answer, 408, "REQUEST_TIMEOUT")
    assert error["details"]["reason"] == "slow_body"
    assert answer.closed, "the connection was kept, with half a body in it"
    assert db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = %s", (agent.agent_id,))[0]["n"] == 0
    assert webhook_counts(strict_web, agent.agent_id)[("rejected", "slow_body")] == 1
    # and the web still answers
    assert agent.post(task_payload("sa_nobody", "active")).status_code == 202


def test_a_chunked_body_that_stops_is_408(make_agent, strict_web):
    agent = make_agent(base_url=strict_web)

    def chunks():
        yield b'{"idempotency_key":'
        time.sleep(float(STRICT["MEDIABUY_WEBHOOK_BODY_TIMEOUT_SECONDS"]) + 3)
        yield b'"evt_late"}'

    try:
        answer = requests.post(f"{strict_web}/webhooks/adcp/{agent.agent_id}", data=chunks(),
                               headers={"Content-Type": "application/json"}, timeout=30)
    except requests.ConnectionError:  # the server answered and closed while we were still sending
        answer = None
    if answer is not None:
        assert_envelope(answer, 408, "REQUEST_TIMEOUT")
    assert webhook_counts(strict_web, agent.agent_id)[("rejected", "slow_body")] == 1


def test_oversized_request_line_and_headers_are_refused_as_json(make_agent, strict_web):
    agent = make_agent(base_url=strict_web)
    url = f"{strict_web}/webhooks/adcp/{agent.agent_id}"
    line_limit = int(STRICT["MEDIABUY_WEB_LIMIT_REQUEST_LINE"])
    assert_envelope(requests.post(url + "?" + "x" * line_limit, data=b"{}", timeout=10), 414)
    field_limit = int(STRICT["MEDIABUY_WEB_LIMIT_REQUEST_FIELD_SIZE"])
    assert_envelope(requests.post(url, data=b"{}", headers={"X-Big": "x" * field_limit}, timeout=10), 431)
    many = {f"X-H{i}": "1" for i in range(int(STRICT["MEDIABUY_WEB_LIMIT_REQUEST_FIELDS"]) + 1)}
    assert_envelope(requests.post(url, data=b"{}", headers=many, timeout=10), 431)
    assert agent.post(task_payload("sa_nobody", "active")).status_code == 202


def test_a_malformed_request_is_refused_as_json(strict_web):
    answer = raw_post(strict_web, "/webhooks/adcp/agent_x", {"Content-Type": "application/json",
                                                              "Bad Header Name": "1"}, b"{}")
    assert answer.status_code == 400 and json.loads(answer.text)["error"]["code"] == "BAD_REQUEST"
