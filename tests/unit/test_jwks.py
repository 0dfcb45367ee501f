"""adcp/jwks.py: which keys of a JWKS document are kept, and which documents are refused."""

from __future__ import annotations

import pytest

from mediabuy_sync.adcp.jwks import JwksError, check_uri, usable_keys
from support.rfc9421 import VECTOR_KEYS

ED25519 = {k: v for k, v in VECTOR_KEYS["test-ed25519-webhook-2026"].items() if not k.startswith("_")}
P256 = {k: v for k, v in VECTOR_KEYS["test-es256-webhook-2026"].items() if not k.startswith("_")}


def test_public_ed25519_and_p256_keys_are_kept_by_kid_with_their_public_members_only():
    keys = usable_keys({"keys": [ED25519 | {"x5c": ["…"]}, P256]})
    assert keys == {ED25519["kid"]: ED25519, P256["kid"]: P256}


@pytest.mark.parametrize("entry", [
    {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
    ED25519 | {"kid": "leaked", "d": "c2VjcmV0"},
    ED25519 | {"kid": "short", "x": "AAAA"},
    P256 | {"kid": "off-curve", "y": "A" * 43},
    ED25519 | {"kid": "padded", "x": ED25519["x"] + "="},
    {k: v for k, v in ED25519.items() if k != "kid"},
    "not an object",
])
def test_unusable_keys_are_skipped(entry):
    assert list(usable_keys({"keys": [ED25519, entry]})) == [ED25519["kid"]]


@pytest.mark.parametrize("document", [
    {"keys": []},
    {"keys": [{"kty": "RSA", "kid": "rsa"}]},
    {"keys": [ED25519, ED25519]},
    {"keys": [{"kty": "RSA", "kid": ED25519["kid"]}, ED25519]},
    {"no": "keys"},
    ["keys"],
])
def test_a_document_without_a_usable_key_or_with_an_ambiguous_kid_is_refused(document):
    with pytest.raises(JwksError):
        usable_keys(document)


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "ftp://x/jwks", "/relative", "http://", "https://[::1/jwks"])
def test_only_http_uris_are_fetched(uri):
    with pytest.raises(JwksError):
        check_uri(uri, allow_http=True)


def test_plain_http_is_refused_unless_the_development_setting_allows_it():
    with pytest.raises(JwksError, match="MEDIABUY_JWKS_ALLOW_HTTP"):
        check_uri("http://agent.example/.well-known/jwks.json")
    check_uri("http://agent.example/.well-known/jwks.json", allow_http=True)


def test_an_uppercase_scheme_is_still_http():
    check_uri("HTTPS://agent.example/.well-known/jwks.json")
