"""adcp: inbound webhook authentication — one scheme per agent, chosen at registration, never "try both".

Each verifier looks at the raw body and headers only, and raises SignatureRejected with one of the
protocol's `webhook_*` reasons. RFC 9421 is not among them: it also needs the method and the URL, and
hands back a nonce to record with the event, so the web calls adcp/rfc9421.py for it directly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

HMAC_SCHEME = "hmac-sha256"
BEARER_SCHEME = "bearer"
RFC9421_SCHEME = "rfc9421"
SCHEMES = (HMAC_SCHEME, BEARER_SCHEME, RFC9421_SCHEME)

HMAC_MIN_SECRET_BYTES = 32
# What verify() returns when an HMAC verified over the compact JSON of the body, not the body itself.
COMPACT_JSON = "compact_json"


class SignatureRejected(Exception):
    """The request does not prove it comes from the agent. `reason` is the protocol's error code."""

    def __init__(self, reason: str, message: str, challenge: str = "Signature"):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.challenge = challenge

    @property
    def www_authenticate(self) -> str:
        return f'{self.challenge} error="{self.reason}"'


@dataclass(frozen=True)
class InboundAuth:
    """What an agent authenticates its webhooks with: its scheme, every active secret, and (RFC 9421)
    every active public JWK by key id and the key ids an operator revoked. `hmac_compact_json`: the
    agent signs the compact JSON of what it sends (opt-in leniency, see verify_hmac)."""

    agent_id: str
    scheme: str
    secrets: tuple[str, ...]
    public_jwks: Mapping[str, Mapping] = field(default_factory=dict)
    hmac_compact_json: bool = False
    revoked_key_ids: frozenset[str] = frozenset()


def verify_hmac(
    auth: InboundAuth, headers: Mapping[str, str], body: bytes, now: float, tolerance: int
) -> str | None:
    """Legacy ADCP HMAC: X-AdCP-Signature = sha256=<hex> of HMAC(secret, "{X-AdCP-Timestamp}.{body}").
    Returns COMPACT_JSON when it verified over the body's compact JSON instead (the agent opted in)."""
    signature = headers.get("X-AdCP-Signature")
    timestamp = headers.get("X-AdCP-Timestamp")
    if not signature or not timestamp:
        raise SignatureRejected(
            "webhook_signature_required", "X-AdCP-Signature and X-AdCP-Timestamp are required."
        )
    if not signature.startswith("sha256=") or not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureRejected(
            "webhook_signature_header_malformed",
            "X-AdCP-Signature must be sha256=<hex> and X-AdCP-Timestamp Unix seconds.",
        )
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureRejected(
            "webhook_signature_window_invalid", f"X-AdCP-Timestamp is more than {tolerance} s from now."
        )
    presented = signature.removeprefix("sha256=").encode()
    if _any_secret_matches(auth.secrets, timestamp.encode() + b"." + body, presented):
        return None
    # Opt-in per agent (`agents add … --hmac-compact-json`): a seller that signs the compact JSON of a
    # body it then posts re-serialised (SELLERS.md). Off by default: it widens what a signature covers
    # to "the same JSON value" rather than the bytes; the caller counts it when it is what verified.
    compact = _compact_json(body) if auth.hmac_compact_json else None
    if compact is not None and compact != body and _any_secret_matches(
            auth.secrets, timestamp.encode() + b"." + compact, presented):
        return COMPACT_JSON
    raise SignatureRejected("webhook_signature_invalid", "The signature does not match the body.")


def _any_secret_matches(secrets: tuple[str, ...], message: bytes, presented: bytes) -> bool:
    # Every active secret is tried, so an agent can rotate without a gap; each compare is constant-time.
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, presented)
    return matched


def _compact_json(body: bytes) -> bytes | None:
    """json.dumps(parsed, separators=(",", ":")) as the seller computes it (ensure_ascii as Python's
    default); None when the body is not JSON."""
    try:
        return json.dumps(json.loads(body), separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        return None


def verify_bearer(
    auth: InboundAuth, headers: Mapping[str, str], body: bytes, now: float, tolerance: int
) -> str | None:
    """Bearer: the token we registered in push_notification_config.authentication."""
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignatureRejected("webhook_auth_required", "Authorization: Bearer <token> is required.", "Bearer")
    presented = hashlib.sha256(token.strip().encode()).digest()
    matched = False
    for secret in auth.secrets:
        matched |= hmac.compare_digest(hashlib.sha256(secret.encode()).digest(), presented)
    if not matched:
        raise SignatureRejected("webhook_auth_invalid", "The bearer token is not valid for this agent.", "Bearer")
    return None


Verifier = Callable[[InboundAuth, Mapping[str, str], bytes, float, int], "str | None"]

# The shared-secret schemes. RFC9421_SCHEME is verified by adcp/rfc9421.py (see web/webhooks.py).
VERIFIERS: dict[str, Verifier] = {
    HMAC_SCHEME: verify_hmac,
    BEARER_SCHEME: verify_bearer,
}


def verify(auth: InboundAuth, headers: Mapping[str, str], body: bytes, now: float, tolerance: int) -> str | None:
    """Raise SignatureRejected unless the request authenticates as `auth.agent_id`; COMPACT_JSON when
    the agent's compact-JSON leniency is what verified it."""
    verifier = VERIFIERS.get(auth.scheme)
    if verifier is None:
        raise SignatureRejected(
            "webhook_mode_mismatch", f"The agent's scheme {auth.scheme!r} is not verified here."
        )
    if not auth.secrets:
        raise SignatureRejected("webhook_signature_key_unknown", "The agent has no active credentials.")
    return verifier(auth, headers, body, now, tolerance)


def hmac_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers a legacy-HMAC agent sends; used by the CLI's examples, tests and benchmarks."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-AdCP-Signature": f"sha256={digest}", "X-AdCP-Timestamp": str(timestamp)}
