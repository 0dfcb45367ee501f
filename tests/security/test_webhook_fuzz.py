"""Fuzzing the webhook endpoint with hypothesis: raw bodies and headers, for agents of each scheme
and for agents that do not exist. Whatever comes in: never a 5xx, every refusal the JSON envelope,
and nothing stored but what was properly signed (which the fuzzer also sends, and counts).

MEDIABUY_FUZZ_WEBHOOK_EXAMPLES sets the number of requests (default 9,400: with the schemathesis run over
the API, over 10,000 in CI); MEDIABUY_FUZZ_HEAVY=1 sends 20,000. MEDIABUY_FUZZ_RANDOM=1 explores new cases (else
derandomized: CI sees the same ones every run)."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediabuy_sync.adcp.signatures import hmac_headers
from support.stack import OUTPUT
from support.webhooks import task_payload

HEAVY = bool(os.environ.get("MEDIABUY_FUZZ_HEAVY"))
EXAMPLES = int(os.environ.get("MEDIABUY_FUZZ_WEBHOOK_EXAMPLES", "20000" if HEAVY else "9400"))

# Header values requests can send (latin-1, no CR/LF), and names that are tokens.
header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                       max_size=80).map(str.strip)  # requests refuses surrounding whitespace
header_name = st.sampled_from(["Content-Length", "Transfer-Encoding", "Authorization", "X-AdCP-Signature", "Host",
                               "Content-Encoding", "Expect", "X-Forwarded-For", "Signature", "Connection"]) | st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=16).filter(lambda n: n[0] != "-")
json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                          max_leaves=6)
PAYLOAD_KEYS = ["idempotency_key", "operation_id", "task_id", "task_type", "status", "timestamp", "result"]
TASK_STATUSES = ["submitted", "working", "completed", "failed", "rejected", "canceled", "input-required", "nonsense"]
BUY_STATUSES = ["active", "paused", "pending_activation", "completed", "canceled", "bogus"]


@st.composite
def payloads(draw) -> bytes:
    """Bodies from garbage to valid ADCP webhooks, and valid ones with a field broken."""
    kind = draw(st.sampled_from(["bytes", "json", "valid", "broken", "huge_number", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_value)).encode()
    if kind == "deep":
        depth = draw(st.integers(1, 3000))
        return b"[" * depth + b"]" * draw(st.integers(0, depth))
    payload = task_payload("sa_fuzz_" + draw(st.sampled_from(["a", "b"])), draw(st.sampled_from(BUY_STATUSES)),
                           task_status=draw(st.sampled_from(TASK_STATUSES)))
    if kind == "huge_number":  # past Python's 4300-digit int parsing limit, too
        payload["result"]["media_buy_id"] = "__number__"
        digits = "9" * draw(st.integers(10, 6000))
        return json.dumps(payload).replace('"__number__"', digits).encode()
    if kind == "broken":
        for key in draw(st.lists(st.sampled_from(PAYLOAD_KEYS + ["extra", "pushNotification"]), min_size=1, max_size=3)):
            if draw(st.booleans()):
                payload.pop(key, None)
            else:
                payload[key] = draw(json_value)
    return json.dumps(payload).encode()


def _signed(draw, agent: dict, body: bytes, headers: dict) -> dict:
    """The agent's headers for this body: valid, missing, garbage, stale or with another key."""
    headers = dict(headers)
    signing = draw(st.sampled_from(["valid", "valid", "none", "garbage", "stale", "other"]))
    now = int(time.time())
    if agent["scheme"] == "hmac-sha256":
        if signing == "valid":
            headers.update(hmac_headers(agent["secret"], body, now))
        elif signing == "stale":
            headers.update(hmac_headers(agent["secret"], body, now - draw(st.integers(301, 10 ** 9))))
        elif signing == "other":
            headers.update(hmac_headers(secrets.token_urlsafe(32), body, now))
        elif signing == "garbage":
            headers["X-AdCP-Signature"] = draw(header_value)
            headers["X-AdCP-Timestamp"] = draw(header_value)
    elif agent["scheme"] == "bearer":
        if signing in ("valid", "stale"):
            headers["Authorization"] = f"Bearer {agent['secret']}"
        elif signing in ("garbage", "other"):
            headers["Authorization"] = draw(header_value)
    elif signing != "none":  # RFC 9421 (never validly signed here) or an unknown agent
        headers.update({"Signature-Input": draw(header_value), "Signature": draw(header_value),
                        "Content-Digest": draw(header_value)})
    return {k: v for k, v in headers.items() if v != ""}


@st.composite
def requests_to_send(draw, agents) -> list[tuple[dict, bytes, dict]]:
    """One body and its headers, sent to every agent, each signing it its own (drawn) way."""
    body = draw(payloads())
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8",
                                                     "text/plain", "application/x-www-form-urlencoded", ""]))}
    headers.update(draw(st.dictionaries(header_name, header_value, max_size=3)))
    return [(agent, body, _signed(draw, agent, body, headers)) for agent in agents]


def test_the_webhook_endpoint_survives_fuzzing(stack, make_agent, db):
    agents = []
    for scheme in ("hmac-sha256", "bearer"):
        sender = make_agent(scheme)
        agents.append({"id": sender.agent_id, "scheme": scheme, "secret": sender.secret})
    rfc = make_agent("bearer")  # an agent we pretend is RFC 9421: its requests are never validly signed
    db("UPDATE sales_agents SET inbound_scheme = 'rfc9421' WHERE id = %s", (rfc.agent_id,))
    agents.append({"id": rfc.agent_id, "scheme": "rfc9421", "secret": None})
    agents.append({"id": "agent_nobody_" + secrets.token_hex(3), "scheme": "none", "secret": None})
    ids = [agent["id"] for agent in agents]
    before = {
        "events": db("SELECT count(*) AS n FROM webhook_events")[0]["n"],
    }
    local = threading.local()
    pool = ThreadPoolExecutor(len(agents))
    statuses: Counter = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    accepted_keys: set[tuple[str, str]] = set()
    started = time.monotonic()

    @given(batch=requests_to_send(agents))
    @settings(max_examples=-(-EXAMPLES // len(agents)), deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=not os.environ.get("MEDIABUY_FUZZ_RANDOM"))
    def send_all(batch):
        for failure in pool.map(send, batch):  # at once: the web's threads overlap them
            assert failure is None, failure

    def send(request):
        """None, or what is wrong with the answer (assertions stay in hypothesis's thread)."""
        agent, body, headers = request
        if not hasattr(local, "session"):
            local.session = requests.Session()
        answer = local.session.post(f"{stack['base_url']}/webhooks/adcp/{agent['id']}", data=body, headers=headers,
                                    timeout=30)
        with lock:
            statuses[answer.status_code] += 1
        if answer.status_code >= 500:
            return f"{answer.status_code} for {agent['scheme']} {headers} {body[:200]!r}: {answer.text[:300]}"
        try:
            document = answer.json()
        except ValueError:
            return f"not JSON ({answer.status_code}): {answer.text[:200]!r}"
        if answer.status_code in (200, 202):
            if agent["scheme"] not in ("hmac-sha256", "bearer"):
                return f"accepted without a valid signature: {agent} {headers}"
            if answer.status_code == 202:
                with lock:
                    accepted_keys.add((agent["id"], document["data"]["event_id"]))
        elif not (isinstance(document, dict) and document.get("data", "x") is None
                  and document["error"]["code"] and document["error"]["message"]):
            return f"not the envelope ({answer.status_code}): {document}"
        return None

    try:
        send_all()
    except (AssertionError, BaseExceptionGroup) as exc:
        problems.append(str(exc)[:3000])
    finally:
        pool.shutdown()
    elapsed = time.monotonic() - started
    sent = sum(statuses.values())
    line = (f"webhook fuzz: {sent} requests in {elapsed:.1f} s ({sent / elapsed:.0f}/s), "
            f"{sum(n for s, n in statuses.items() if s >= 500)} answered 5xx; by status {dict(sorted(statuses.items()))}")
    print("\n" + line)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT / "fuzz.txt", "a") as out:  # kept with the run's logs, so a CI run's figures can be quoted
        out.write(line + "\n")

    assert not problems, "\n".join(problems[:20])
    assert sent >= EXAMPLES
    # stored: exactly the accepted ones, all from the agents with a valid secret; no nonce at all (counted for
    # these agents only: beat's sweep deletes other tests' expired nonces while this runs)
    stored = db("SELECT count(*) AS n FROM webhook_events WHERE agent_id = ANY(%s)", (ids,))[0]["n"]
    assert stored == len(accepted_keys)
    assert db("SELECT count(*) AS n FROM webhook_events")[0]["n"] - before["events"] == len(accepted_keys)
    assert db("SELECT count(*) AS n FROM webhook_nonces WHERE agent_id = ANY(%s)", (ids,))[0]["n"] == 0
    assert statuses[202] > 0 and sum(n for s, n in statuses.items() if s >= 400) > sent / 3  # both sides reached
