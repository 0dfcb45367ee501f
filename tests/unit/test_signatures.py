"""adcp/signatures.py: legacy HMAC, Bearer, rotation and the refusal of unsupported schemes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mediabuy_sync.adcp.signatures import (
    BEARER_SCHEME,
    HMAC_SCHEME,
    RFC9421_SCHEME,
    InboundAuth,
    SignatureRejected,
    hmac_headers,
    verify,
)

SECRET = "s3cr3t-" + "x" * 32
OTHER_SECRET = "0th3r-" + "y" * 32
BODY = b'{"idempotency_key":"idem-0000000000000001","status":"completed"}'
NOW = 1_767_268_800
TOLERANCE = 300

HMAC_AUTH = InboundAuth("agent-1", HMAC_SCHEME, (SECRET,))
BEARER_AUTH = InboundAuth("agent-1", BEARER_SCHEME, ("token-" + "t" * 32,))


def independent_signature(secret: str, timestamp: str, body: bytes) -> str:
    # the legacy scheme, recomputed here rather than trusting hmac_headers
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def rejection(auth, headers, body=BODY, now=NOW, tolerance=TOLERANCE) -> SignatureRejected:
    with pytest.raises(SignatureRejected) as info:
        verify(auth, headers, body, now, tolerance)
    return info.value


# --- HMAC ------------------------------------------------------------------------------------------


def test_hmac_headers_verify():
    verify(HMAC_AUTH, hmac_headers(SECRET, BODY, NOW), BODY, NOW, TOLERANCE)


def test_hmac_message_is_timestamp_dot_body():
    headers = hmac_headers(SECRET, BODY, NOW)
    assert headers == {
        "X-AdCP-Signature": independent_signature(SECRET, str(NOW), BODY),
        "X-AdCP-Timestamp": str(NOW),
    }


def test_independently_signed_request_verifies():
    headers = {"X-AdCP-Signature": independent_signature(SECRET, str(NOW), BODY), "X-AdCP-Timestamp": str(NOW)}
    verify(HMAC_AUTH, headers, BODY, NOW, TOLERANCE)


def test_empty_body_signs_too():
    verify(HMAC_AUTH, hmac_headers(SECRET, b"", NOW), b"", NOW, TOLERANCE)


@pytest.mark.parametrize(
    "body",
    [BODY + b" ", BODY[:-1], BODY.replace(b"completed", b"failed"), b""],
    ids=["appended", "truncated", "edited", "emptied"],
)
def test_tampered_body(body):
    assert rejection(HMAC_AUTH, hmac_headers(SECRET, BODY, NOW), body=body).reason == "webhook_signature_invalid"


def test_tampered_signature():
    headers = hmac_headers(SECRET, BODY, NOW)
    hexdigest = headers["X-AdCP-Signature"].removeprefix("sha256=")
    flipped = ("0" if hexdigest[0] != "0" else "1") + hexdigest[1:]
    headers["X-AdCP-Signature"] = "sha256=" + flipped
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_invalid"


@pytest.mark.parametrize("signature", ["sha256=", "sha256=zz", "sha256=" + "0" * 64])
def test_garbage_signature_is_invalid(signature):
    headers = {"X-AdCP-Signature": signature, "X-AdCP-Timestamp": str(NOW)}
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_invalid"


def test_upper_case_hex_is_not_the_signature():
    # the scheme says lower-case hex; a compare of different bytes must not pass
    headers = hmac_headers(SECRET, BODY, NOW)
    headers["X-AdCP-Signature"] = "sha256=" + headers["X-AdCP-Signature"].removeprefix("sha256=").upper()
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_invalid"


def test_wrong_secret():
    assert rejection(HMAC_AUTH, hmac_headers(OTHER_SECRET, BODY, NOW)).reason == "webhook_signature_invalid"


def test_timestamp_is_part_of_the_signature():
    # replaying the signature under a fresher timestamp must fail
    headers = hmac_headers(SECRET, BODY, NOW - 100)
    headers["X-AdCP-Timestamp"] = str(NOW)
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_invalid"


@pytest.mark.parametrize("offset", [-(TOLERANCE + 1), TOLERANCE + 1], ids=["past", "future"])
def test_timestamp_outside_window(offset):
    headers = hmac_headers(SECRET, BODY, NOW + offset)
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_window_invalid"


@pytest.mark.parametrize("offset", [-TOLERANCE, TOLERANCE, 0], ids=["past-edge", "future-edge", "now"])
def test_timestamp_at_tolerance_accepted(offset):
    verify(HMAC_AUTH, hmac_headers(SECRET, BODY, NOW + offset), BODY, NOW, TOLERANCE)


def test_fractional_now_just_past_the_window():
    # `now` is time.time(): a fraction of a second past the edge is already outside
    headers = hmac_headers(SECRET, BODY, NOW)
    assert rejection(HMAC_AUTH, headers, now=NOW + TOLERANCE + 0.5).reason == "webhook_signature_window_invalid"


def test_window_checked_before_signature():
    # a stale request with a bad signature reports the window, as the protocol orders the checks
    headers = {"X-AdCP-Signature": "sha256=" + "0" * 64, "X-AdCP-Timestamp": str(NOW - 10_000)}
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_window_invalid"


@pytest.mark.parametrize("missing", ["X-AdCP-Signature", "X-AdCP-Timestamp"])
def test_missing_header(missing):
    headers = hmac_headers(SECRET, BODY, NOW)
    del headers[missing]
    error = rejection(HMAC_AUTH, headers)
    assert error.reason == "webhook_signature_required"
    assert error.challenge == "Signature"


@pytest.mark.parametrize("empty", ["X-AdCP-Signature", "X-AdCP-Timestamp"])
def test_empty_header_counts_as_missing(empty):
    headers = hmac_headers(SECRET, BODY, NOW)
    headers[empty] = ""
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_required"


def test_no_headers_at_all():
    assert rejection(HMAC_AUTH, {}).reason == "webhook_signature_required"


@pytest.mark.parametrize(
    "signature_prefix",
    ["sha1=", "SHA256=", "sha256:", ""],
    ids=["sha1", "upper-case", "colon", "bare-hex"],
)
def test_malformed_signature_prefix(signature_prefix):
    digest = independent_signature(SECRET, str(NOW), BODY).removeprefix("sha256=")
    headers = {"X-AdCP-Signature": signature_prefix + digest, "X-AdCP-Timestamp": str(NOW)}
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_header_malformed"


@pytest.mark.parametrize(
    "timestamp",
    [
        "abc",
        "-1",
        "1767268800.5",
        " 1767268800",
        "+1767268800",
        "2026-01-01T00:00:00Z",
        "1" * 13,  # past any sane Unix time; keeps int() of huge strings out
        "\u00b2",  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no (latin-1, so a WSGI header can carry it)
        "\u0661\u0662",  # ARABIC-INDIC digits: not the ASCII Unix seconds the scheme specifies
    ],
    ids=["letters", "negative", "fraction", "leading-space", "plus", "iso", "13-digits", "superscript", "arabic-indic"],
)
def test_malformed_timestamp(timestamp):
    # each must be refused as malformed, never escape as another exception (a 500)
    headers = {"X-AdCP-Signature": independent_signature(SECRET, timestamp, BODY), "X-AdCP-Timestamp": timestamp}
    assert rejection(HMAC_AUTH, headers).reason == "webhook_signature_header_malformed"


# --- rotation and keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("signing_secret", [SECRET, OTHER_SECRET], ids=["first", "second"])
def test_rotation_either_active_secret_verifies(signing_secret):
    auth = InboundAuth("agent-1", HMAC_SCHEME, (SECRET, OTHER_SECRET))
    verify(auth, hmac_headers(signing_secret, BODY, NOW), BODY, NOW, TOLERANCE)


def test_rotation_retired_secret_fails():
    auth = InboundAuth("agent-1", HMAC_SCHEME, (SECRET, OTHER_SECRET))
    retired = "retired-" + "z" * 32
    assert rejection(auth, hmac_headers(retired, BODY, NOW)).reason == "webhook_signature_invalid"


@pytest.mark.parametrize("scheme", [HMAC_SCHEME, BEARER_SCHEME])
def test_no_active_secrets(scheme):
    auth = InboundAuth("agent-1", scheme, ())
    headers = {**hmac_headers(SECRET, BODY, NOW), "Authorization": "Bearer " + SECRET}
    assert rejection(auth, headers).reason == "webhook_signature_key_unknown"


# --- Bearer ----------------------------------------------------------------------------------------

TOKEN = BEARER_AUTH.secrets[0]


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer {TOKEN} "])
def test_bearer_right_token(value):
    verify(BEARER_AUTH, {"Authorization": value}, BODY, NOW, TOLERANCE)


def test_bearer_rotation():
    auth = InboundAuth("agent-1", BEARER_SCHEME, ("old-" + "o" * 32, TOKEN))
    verify(auth, {"Authorization": f"Bearer {TOKEN}"}, BODY, NOW, TOLERANCE)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer   "},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        hmac_headers(TOKEN, BODY, NOW),  # an HMAC-signed request is not a bearer request
    ],
    ids=["wrong", "longer", "shorter", "missing", "empty", "no-token", "blank-token", "basic", "bare-token", "hmac"],
)
def test_bearer_rejected(headers):
    error = rejection(BEARER_AUTH, headers)
    assert error.challenge == "Bearer"
    assert error.reason.startswith("webhook_")
    assert error.www_authenticate == f'Bearer error="{error.reason}"'


def test_hmac_agent_ignores_a_bearer_token():
    # one scheme per agent, never "try both"
    error = rejection(HMAC_AUTH, {"Authorization": f"Bearer {SECRET}"})
    assert error.reason == "webhook_signature_required"


# --- unsupported schemes and the challenge header --------------------------------------------------


@pytest.mark.parametrize("scheme", [RFC9421_SCHEME, "nonsense"])
def test_unsupported_scheme_is_refused(scheme):
    # even with a request that would pass HMAC: never fall back to another scheme
    auth = InboundAuth("agent-1", scheme, (SECRET,))
    error = rejection(auth, hmac_headers(SECRET, BODY, NOW))
    assert error.reason == "webhook_mode_mismatch"


def test_www_authenticate_renders_signature_challenge():
    error = rejection(HMAC_AUTH, {})
    assert error.www_authenticate == 'Signature error="webhook_signature_required"'
    assert error.message  # a human-readable explanation travels with the code
    assert str(error) == error.message


def test_signature_rejected_custom_challenge():
    assert SignatureRejected("webhook_x", "m", "Bearer").www_authenticate == 'Bearer error="webhook_x"'
