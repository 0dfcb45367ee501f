"""adcp/rfc9421.py gives the SDK verifier's answer, reason for reason, beyond the compliance vectors.

The SDK (adcp.signing.webhook_verifier) is the reference: requests it signs over assorted URLs, keys and
bodies, and thousands of seeded mutations of them and of the vectors, must get the same verdict from
both. One deliberate difference: the SDK's content-type pre-check reads the *first* Signature-Input label,
where the profile says to process `sig1` only — so it refuses a valid request whose other label comes first.
"""

from __future__ import annotations

import json
import random

import pytest

from adcp.signing import webhook_verifier as sdk_verifier
from adcp.signing.crypto import private_key_from_jwk
from adcp.signing.digest import compute_content_digest_sha256
from adcp.signing.errors import SignatureVerificationError
from adcp.signing.jwks import StaticJwksResolver
from adcp.signing.webhook_signer import sign_webhook

from mediabuy_sync.adcp import rfc9421
from mediabuy_sync.adcp.signatures import SignatureRejected
from support.rfc9421 import VECTOR_KEYS as KEYS
from support.rfc9421 import VECTORS

NOW = 1776520800
URLS = [
    "https://buyer.example.com/adcp/webhook/x",
    "http://127.0.0.1:8000/webhooks/adcp/a?b=2&a=1",
    "https://Buyer.Example.COM:443/a/./b/../c%7e%2f?",
    "https://[::1]:8443/p",
    "https://u@h.example/p",
]
BODIES = [b'{"a":1}', b'{"a":1,"a":2}', b"", b"  ", b"[1e999]", b'{"x":"\\ud800"}', b"\xff", b"NaN"]
MUTATION_CHARS = list('abc:;,="()\\ -_+/=?@[]%.1 \t') + ["\u00e9"]


def ours(method, url, headers, body, keys, now) -> str:
    try:
        rfc9421.verify_webhook(method, url, headers, body, keys, now)
        return "ok"
    except SignatureRejected as exc:
        return exc.reason


def theirs(method, url, headers, body, keys, now) -> str:
    public = [{k: v for k, v in jwk.items() if not k.startswith("_")} for jwk in keys.values()]
    options = sdk_verifier.WebhookVerifyOptions(
        jwks_resolver=StaticJwksResolver({"keys": public}), replay_store=None, clock=lambda: now
    )
    try:
        sdk_verifier.verify_webhook_signature(method=method, url=url, headers=headers, body=body, options=options)
        return "ok"
    except SignatureVerificationError as exc:
        return exc.code


def signed_by_the_sdk(url: str, body: bytes, kid: str) -> dict[str, str]:
    jwk = KEYS[kid]
    headers = {"Content-Type": "application/json"}
    signed = sign_webhook(
        method="POST", url=url, headers=headers, body=body,
        private_key=private_key_from_jwk(jwk, d_field="_private_d_for_test_only"), key_id=kid,
        alg="ed25519" if jwk["kty"] == "OKP" else "ecdsa-p256-sha256", created=NOW,
    )
    return {**headers, **signed.as_dict()}


def base_cases() -> list[tuple]:
    cases = []
    for path in sorted(VECTORS.glob("*/*.json")):
        vector = json.loads(path.read_text())
        request = vector["request"]
        keys = {kid: KEYS[kid] for kid in vector["jwks_ref"]} | vector.get("jwks_override", {})
        cases.append((request["method"], request["url"], request["headers"], request["body"].encode(), keys))
    for url in URLS:
        for kid in ("test-ed25519-webhook-2026", "test-es256-webhook-2026"):
            for body in BODIES:
                cases.append(("POST", url, signed_by_the_sdk(url, body, kid), body, KEYS))
    return cases


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        i, op = rng.randrange(len(chars) + 1), rng.random()
        if op < 0.4 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op < 0.8:
            chars.insert(i, rng.choice(MUTATION_CHARS))
        elif chars:
            chars[min(i, len(chars) - 1)] = rng.choice(MUTATION_CHARS)
    return "".join(chars)


def mutated_cases(seed: int, count: int):
    rng, cases = random.Random(seed), base_cases()
    for _ in range(count):
        method, url, headers, body, keys = rng.choice(cases)
        headers, roll = dict(headers), rng.random()
        if roll < 0.6:
            name = rng.choice(list(headers))
            headers[name] = _mutate(rng, headers[name])
        elif roll < 0.7:
            url = _mutate(rng, url)
        elif roll < 0.75:
            headers.pop(rng.choice(list(headers)))
        elif roll < 0.8:
            headers["Host"] = _mutate(rng, rng.choice(["h.example", "[::1]:80", "a:b:c", "x.y:"]))
        elif roll < 0.85:
            body = body + b" " if rng.random() < 0.5 else body[:-1]
        yield method, url, headers, body, keys, NOW + rng.choice([0, 0, 0, -61, 361, 400, -1000])


def _reads_another_label_first(headers) -> bool:
    signature_input = next((v for k, v in headers.items() if k.lower() == "signature-input"), None)
    return signature_input is not None and not signature_input.lstrip().startswith("sig1=")


def test_unmutated_requests_get_the_sdks_verdict():
    for method, url, headers, body, keys in base_cases():
        assert ours(method, url, headers, body, keys, NOW) == theirs(method, url, headers, body, keys, NOW), (url, body)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_requests_get_the_sdks_verdict(seed):
    differences = []
    for case in mutated_cases(seed, 1500):
        verdicts = ours(*case), theirs(*case)
        if verdicts[0] != verdicts[1] and not _reads_another_label_first(case[2]):
            differences.append((verdicts, case))
    assert differences == []


def test_sig1_is_judged_even_when_another_label_comes_first():
    vector = json.loads((VECTORS / "positive" / "003-multiple-signature-labels.json").read_text())
    request = vector["request"]
    sig1, relay = request["headers"]["Signature-Input"].split(", relay=")
    headers = {**request["headers"], "Signature-Input": f"relay={relay}, {sig1}"}
    keys = {kid: KEYS[kid] for kid in vector["jwks_ref"]}
    args = (request["method"], request["url"], headers, request["body"].encode(), keys, NOW)
    assert ours(*args) == "ok"
    assert theirs(*args) == "webhook_signature_components_incomplete"  # the SDK's first-label pre-check


@pytest.mark.parametrize("body", BODIES)
def test_content_digest_is_the_sdks(body):
    assert rfc9421.content_digest(body) == compute_content_digest_sha256(body)
