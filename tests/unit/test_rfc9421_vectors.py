"""adcp/rfc9421.py against the protocol's webhook-signing compliance vectors, as the installed SDK ships them.

Applied as their README says: keys.json filtered to each vector's jwks_ref (and jwks_override), the clock
stubbed to reference_now, harness state installed where this service has the primitive. The SDK is
found, not imported: only the web is forbidden to import it, but there is no need to pay for it here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediabuy_sync.adcp import rfc9421
from mediabuy_sync.adcp.signatures import SignatureRejected
from support.rfc9421 import VECTOR_KEYS as KEYS
from support.rfc9421 import VECTORS

# Every harness-state primitive of the vectors is installed (none is skipped as not_applicable): the
# revoked key ids and the staleness of the revocation list (step 9), the per-key replay-cache cap (9a).


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _verify(vector: dict, replay_cache: set[tuple[str, str]] = frozenset()) -> rfc9421.Verified:
    """The vector through the verifier, then through the replay rule the web applies with the nonce."""
    keys = {kid: KEYS[kid] for kid in vector["jwks_ref"]} | vector.get("jwks_override", {})
    request = vector["request"]
    state = vector.get("test_harness_state", {})
    revoked = frozenset(state.get("revoked_kids", ()))
    # a revoked key is no longer among the agent's active keys (agents retire-key): the verifier must
    # still answer key_revoked, not key_unknown
    keys = {kid: jwk for kid, jwk in keys.items() if kid not in revoked}
    verified = rfc9421.verify_webhook(
        request["method"], request["url"], request["headers"], request["body"].encode(), keys,
        vector["reference_now"], revoked_key_ids=revoked,
        revocation_stale="revocation_list_stale_seconds" in state,
        key_at_cap=lambda kid: kid == state.get("per_keyid_cap_filled_for"),
    )
    if (verified.key_id, verified.nonce) in replay_cache:
        raise SignatureRejected(rfc9421.REPLAYED, "replayed")
    return verified


def test_the_vectors_are_there():
    assert len(list(VECTORS.glob("positive/*.json"))) >= 8
    assert len(list(VECTORS.glob("negative/*.json"))) >= 21


@pytest.mark.parametrize("path", sorted(VECTORS.glob("positive/*.json")), ids=lambda p: p.stem)
def test_positive_vector_is_accepted(path):
    vector = _load(path)
    assert vector["expected_outcome"]["success"] is True
    verified = _verify(vector)
    assert verified.key_id in vector["jwks_ref"]
    assert verified.nonce in vector["request"]["headers"]["Signature-Input"]


@pytest.mark.parametrize("path", sorted(VECTORS.glob("negative/*.json")), ids=lambda p: p.stem)
def test_negative_vector_is_rejected_with_its_reason(path):
    vector = _load(path)
    state = vector.get("test_harness_state", {})
    replay_cache = {(entry["keyid"], entry["nonce"]) for entry in state.get("replay_cache_entries", ())}

    with pytest.raises(SignatureRejected) as rejected:
        _verify(vector, replay_cache)

    assert rejected.value.reason == vector["expected_outcome"]["error_code"]
    assert rejected.value.www_authenticate == f'Signature error="{vector["expected_outcome"]["error_code"]}"'
    assert isinstance(rejected.value, rfc9421.UnknownKeyId) == (rejected.value.reason == rfc9421.KEY_UNKNOWN)


def test_replayed_vector_black_box_the_first_delivery_passes_the_second_is_replayed():
    vector = _load(VECTORS / "negative" / "016-replayed-nonce.json")
    assert vector["black_box_behavior"] == "deliver_twice"
    seen: set[tuple[str, str]] = set()
    first = _verify(vector, seen)
    seen.add((first.key_id, first.nonce))
    with pytest.raises(SignatureRejected) as rejected:
        _verify(vector, seen)
    assert rejected.value.reason == "webhook_signature_replayed"


def test_the_nonce_is_kept_until_the_signature_can_no_longer_pass_its_window():
    vector = _load(VECTORS / "positive" / "001-basic-post.json")
    verified = _verify(vector)
    expires = int(vector["request"]["headers"]["Signature-Input"].split("expires=")[1].split(";")[0])
    assert verified.nonce_expires_at == expires + rfc9421.MAX_SKEW_SECONDS
    late = {**vector, "reference_now": verified.nonce_expires_at + 1}
    with pytest.raises(SignatureRejected) as rejected:
        _verify(late)
    assert rejected.value.reason == "webhook_signature_window_invalid"
