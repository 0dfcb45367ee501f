"""adcp: RFC 9421 webhook signatures as ADCP's webhook-signing profile (adcp/webhook-signing/v1) has them.

Verified with the stdlib and `cryptography` only: the web must not pay the ADCP SDK's import cost.
Pure — no I/O, no clock: the caller brings the agent's active public JWKs (by kid) and `now`.

The checks run in the order of the SDK's verifier (adcp.signing.webhook_verifier over
adcp.signing.verifier) and fail with the same `webhook_*` reasons, so a request gets the answer the
protocol's compliance vectors expect. What this module leaves to its caller:
- replay (checklist steps 12-13): `Verified.nonce` is to be recorded, once per agent, until
  `Verified.nonce_expires_at`; a nonce already recorded is REPLAYED;
- an UnknownKeyId is the caller's cue to fetch the agent's JWKS again and verify once more;
- revocation (step 9): the caller brings the key ids revoked and whether its revocation list is stale;
- the per-key replay-cache cap (step 9a): the caller brings `key_at_cap` (the vectors) or checks it where
  it records the nonce (the web: in the nonce's transaction, since only verified nonces fill the cache).
The body's strictness (step 14) is judged here, so before the nonce is recorded rather than after as in
the SDK: a replayed malformed body gets 400, not 401. Nothing is stored either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .signatures import SignatureRejected
from .target_uri import TargetUriMalformed, authority_reason, canonical_authority, canonical_target_uri

TAG = "adcp/webhook-signing/v1"
LABEL = "sig1"
MAX_SKEW_SECONDS = 60
MAX_WINDOW_SECONDS = 300
# alg -> (kty, crv) of the JWK that may verify it
ALGORITHMS = {"ed25519": ("OKP", "Ed25519"), "ecdsa-p256-sha256": ("EC", "P-256")}
# Webhooks are signed with the agent's request-signing key; "webhook-signing" is the deprecated spelling.
KEY_USES = frozenset({"request-signing", "webhook-signing"})
REQUIRED_PARAMS = ("created", "expires", "nonce", "keyid", "alg", "tag")
REQUIRED_COMPONENTS = ("@method", "@target-uri", "@authority")
# against log and index poisoning; real kids and nonces are far shorter
MAX_PARAM_LENGTH = 256

HEADER_MALFORMED = "webhook_signature_header_malformed"
PARAMS_INCOMPLETE = "webhook_signature_params_incomplete"
TAG_INVALID = "webhook_signature_tag_invalid"
ALG_NOT_ALLOWED = "webhook_signature_alg_not_allowed"
WINDOW_INVALID = "webhook_signature_window_invalid"
COMPONENTS_INCOMPLETE = "webhook_signature_components_incomplete"
KEY_UNKNOWN = "webhook_signature_key_unknown"
KEY_PURPOSE_INVALID = "webhook_signature_key_purpose_invalid"
INVALID = "webhook_signature_invalid"
DIGEST_MISMATCH = "webhook_signature_digest_mismatch"
REPLAYED = "webhook_signature_replayed"
KEY_REVOKED = "webhook_signature_key_revoked"
REVOCATION_STALE = "webhook_signature_revocation_stale"
RATE_ABUSE = "webhook_signature_rate_abuse"
TARGET_URI_MALFORMED = "webhook_target_uri_malformed"
BODY_MALFORMED = "webhook_body_malformed"


class UnknownKeyId(SignatureRejected):
    """The keyid is none of the keys given: the agent may have rotated, so refresh and verify again."""

    def __init__(self, key_id: str):
        super().__init__(KEY_UNKNOWN, f"No active key of this agent has the id {key_id!r}.")
        self.key_id = key_id


class BodyMalformed(SignatureRejected):
    """The signature holds but the body is not strict JSON (checklist step 14): a bad request, not bad auth."""


@dataclass(frozen=True)
class Verified:
    key_id: str
    nonce: str
    nonce_expires_at: float  # Unix seconds: after this the signature fails its window check anyway


@dataclass(frozen=True)
class _Label:
    components: tuple[str, ...]
    params: dict[str, str | int]
    serialized: str  # the value after "sig1=", which the signature base ends with verbatim


def verify_webhook(
    method: str, target_uri: str, headers: Mapping[str, str], body: bytes,
    keys: Mapping[str, Mapping[str, Any]], now: float, *,
    revoked_key_ids: Collection[str] = frozenset(), revocation_stale: bool = False,
    key_at_cap: Callable[[str], bool] | None = None,
) -> Verified:
    """Verify one webhook request; raise SignatureRejected (UnknownKeyId, BodyMalformed) with the reason."""
    signature_input, signature = _header(headers, "signature-input"), _header(headers, "signature")
    _check_single_alphabet(signature)
    _check_content_type_covered(headers, signature_input)
    if signature_input is None or signature is None:
        raise SignatureRejected(HEADER_MALFORMED, "Signature-Input and Signature are both required.")
    _check_unambiguous(headers)
    reason = authority_reason(headers, target_uri)
    if reason:
        raise SignatureRejected(TARGET_URI_MALFORMED, reason)
    label = _parse_signature_input(signature_input)
    signature_bytes = _signature_bytes(signature)
    params = label.params
    _check_params(params)
    if params["tag"] != TAG:
        raise SignatureRejected(TAG_INVALID, f"The tag must be {TAG!r}.")
    alg = params["alg"]
    if alg not in ALGORITHMS:
        raise SignatureRejected(ALG_NOT_ALLOWED, f"alg must be one of {sorted(ALGORITHMS)}.")
    created, expires = params["created"], params["expires"]
    _check_window(created, expires, now)
    _check_components(label.components, headers)
    key_id, nonce = params["keyid"], params["nonce"]
    if len(key_id) > MAX_PARAM_LENGTH or len(nonce) > MAX_PARAM_LENGTH:
        raise SignatureRejected(HEADER_MALFORMED, f"keyid and nonce are at most {MAX_PARAM_LENGTH} characters.")
    # step 9: revocation, before the key is looked up (a revoked key is no longer among the active ones)
    if revocation_stale:
        raise SignatureRejected(REVOCATION_STALE, "The revocation list is stale: no webhook is verified until it is refreshed.")
    if key_id in revoked_key_ids:
        raise SignatureRejected(KEY_REVOKED, f"The key {key_id!r} is revoked.")
    jwk = keys.get(key_id)
    if jwk is None:
        raise UnknownKeyId(key_id)
    # step 9a: before any cryptography
    if key_at_cap is not None and key_at_cap(key_id):
        raise SignatureRejected(RATE_ABUSE, f"Too many live nonces for key {key_id!r}.")
    _check_key_purpose(jwk, alg)
    base = _signature_base(method, target_uri, headers, label)
    try:
        public = public_key(jwk)
    except (ValueError, KeyError, TypeError):
        raise SignatureRejected(HEADER_MALFORMED, "The agent's key could not be decoded.") from None
    if not _signature_holds(alg, public, base, signature_bytes):
        raise SignatureRejected(INVALID, "The signature does not verify over the request.")
    digest = _header(headers, "content-digest")
    if digest is None or not content_digest_matches(digest, body):
        raise SignatureRejected(DIGEST_MISMATCH, "Content-Digest does not match the body.")
    _check_strict_json(body)
    return Verified(key_id, nonce, float(expires + MAX_SKEW_SECONDS))


def public_key(jwk: Mapping[str, Any]) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """The key of an OKP/Ed25519 or EC/P-256 public JWK; ValueError for anything else."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if (kty, crv) == ("OKP", "Ed25519"):
        return ed25519.Ed25519PublicKey.from_public_bytes(_coordinate(jwk["x"]))
    if (kty, crv) == ("EC", "P-256"):
        x, y = (int.from_bytes(_coordinate(jwk[name]), "big") for name in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()  # ValueError off the curve
    raise ValueError(f"unsupported key type {kty}/{crv}")


def content_digest(body: bytes) -> str:
    """The Content-Digest header of a body (sha-256), as agents send it."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def content_digest_matches(header: str, body: bytes) -> bool:
    """Whether the header's first sha-256 entry is the body's digest (other algorithms are ignored)."""
    for entry in _split_fields(header, ","):
        name, equals, value = entry.strip().partition("=")
        if not equals or name.strip().lower() != "sha-256":
            continue
        value = value.strip()
        if not (value.startswith(":") and value.endswith(":")):
            return False
        return _lenient_b64decode(value[1:-1]) == hashlib.sha256(body).digest()
    return False


def _split_fields(text: str, separator: str) -> list[str]:
    """Split on `separator` outside RFC 8941 strings (with their \\\\ and \\" escapes) and parentheses."""
    out, depth, in_string, escaped, start = [], 0, False, False, 0
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _check_single_alphabet(signature: str | None) -> None:
    """Webhook signatures are base64url; a token mixing in standard base64 is a smuggling attempt."""
    for entry in _split_fields(signature or "", ","):
        name, equals, value = entry.strip().partition("=")
        if not equals or name.strip() != LABEL:
            continue
        token = value.strip()
        if token.startswith(":") and token.endswith(":") and re.search(r"[+/]", token) and re.search(r"[-_]", token):
            raise SignatureRejected(HEADER_MALFORMED, "The signature mixes base64 alphabets.")
        return


def _check_content_type_covered(headers: Mapping[str, str], signature_input: str | None) -> None:
    """The webhook profile requires content-type to be signed whenever it is sent; judged up front.
    Of label sig1: the SDK reads the first label here, and so refuses a valid request whose other
    label comes first, where the profile says to process sig1 only."""
    if signature_input is None or _header(headers, "content-type") is None:
        return
    try:
        label = _labels(signature_input).get(LABEL)
    except ValueError:
        return  # malformed: reported below with its own reason
    if label is not None and "content-type" not in label.components:
        raise SignatureRejected(COMPONENTS_INCOMPLETE, "The signature must cover content-type.")


def _check_unambiguous(headers: Mapping[str, str]) -> None:
    """RFC 8941: a repeated dictionary key is rejected, never resolved — resolving it lets a proxy swap
    in a weaker signature. A comma in Content-Type means two values were folded into one."""
    for name, value in headers.items():
        name = name.lower()
        if name == "content-type" and len(_split_fields(value, ",")) > 1:
            raise SignatureRejected(HEADER_MALFORMED, "Content-Type carries more than one value.")
        if name in ("signature", "signature-input", "content-digest"):
            keys = [entry.split("=", 1)[0].strip().lower() for entry in _split_fields(value, ",") if entry.strip()]
            keys = [key for key in keys if key]
            if len(keys) != len(set(keys)):
                raise SignatureRejected(HEADER_MALFORMED, f"{name} repeats a key.")


def _parse_signature_input(header: str) -> _Label:
    try:
        labels = _labels(header)
    except ValueError as exc:
        raise SignatureRejected(HEADER_MALFORMED, f"Signature-Input is malformed: {exc}") from None
    if LABEL not in labels:
        raise SignatureRejected(HEADER_MALFORMED, f"Signature-Input has no {LABEL!r} label.")
    return labels[LABEL]


def _labels(header: str) -> dict[str, _Label]:
    labels = {}
    for entry in _split_fields(header, ","):
        entry = entry.strip()
        if not entry:
            continue
        start = entry.find("=(")
        if start < 0:
            raise ValueError(f"entry without a component list: {entry!r}")
        serialized = entry[start + 1:]
        close = serialized.find(")")
        if close < 0:
            raise ValueError("unterminated component list")
        components = tuple(_unquote(token) for token in serialized[1:close].split())
        labels[entry[:start].strip()] = _Label(components, _parse_params(serialized[close + 1:]), serialized)
    return labels


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1]
    raise ValueError(f"component name not quoted: {token!r}")


def _parse_params(text: str) -> dict[str, str | int]:
    params: dict[str, str | int] = {}
    for part in _split_fields(text.strip().removeprefix(";"), ";"):
        name, equals, value = (piece.strip() for piece in part.strip().partition("="))
        if not part.strip():
            continue
        if not name or not equals or not value:
            raise ValueError(f"parameter without a name or a value: {part!r}")
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise ValueError(f"unterminated string in {name!r}")
            params[name] = re.sub(r'\\([\\"])', r"\1", value[1:-1])
        else:
            params[name] = int(value)  # ValueError: neither string nor integer
    return params


def _signature_bytes(header: str) -> bytes:
    """The sig1 value: standard base64 per RFC 8941, or the base64url webhook-v1 signers still emit."""
    for entry in _split_fields(header, ","):
        name, equals, value = entry.strip().partition("=")
        if not equals or name.strip() != LABEL:
            continue
        value = value.strip()
        if not (value.startswith(":") and value.endswith(":")):
            raise SignatureRejected(HEADER_MALFORMED, "The signature is not a byte sequence (:…:).")
        try:
            return base64.b64decode(value[1:-1], validate=True)
        except (ValueError, binascii.Error):
            pass
        try:
            return _b64url_decode(value[1:-1])
        except (ValueError, binascii.Error):
            raise SignatureRejected(HEADER_MALFORMED, "The signature is not valid base64.") from None
    raise SignatureRejected(HEADER_MALFORMED, f"Signature has no {LABEL!r} entry.")


def _check_params(params: Mapping[str, str | int]) -> None:
    missing = [name for name in REQUIRED_PARAMS if name not in params]
    if missing:
        raise SignatureRejected(PARAMS_INCOMPLETE, f"Signature-Input lacks {', '.join(missing)}.")
    if not all(isinstance(params[name], int) for name in ("created", "expires")) or not all(
        isinstance(params[name], str) for name in ("nonce", "keyid", "alg", "tag")
    ):
        raise SignatureRejected(HEADER_MALFORMED, "created/expires must be integers, nonce/keyid/alg/tag strings.")


def _check_window(created: int, expires: int, now: float) -> None:
    if expires <= created or expires - created > MAX_WINDOW_SECONDS:
        raise SignatureRejected(WINDOW_INVALID, f"expires must follow created by at most {MAX_WINDOW_SECONDS} s.")
    if now < created - MAX_SKEW_SECONDS or now > expires + MAX_SKEW_SECONDS:
        raise SignatureRejected(WINDOW_INVALID, "The signature is not valid now (created/expires).")


def _check_components(components: tuple[str, ...], headers: Mapping[str, str]) -> None:
    if len(components) != len(set(components)):
        raise SignatureRejected(HEADER_MALFORMED, "Signature-Input repeats a component.")
    missing = [name for name in REQUIRED_COMPONENTS if name not in components]
    if _header(headers, "content-type") is not None and "content-type" not in components:
        missing.append("content-type")
    if "content-digest" not in components:  # the body is the event: it must be signed
        missing.append("content-digest")
    if missing:
        raise SignatureRejected(COMPONENTS_INCOMPLETE, f"The signature must cover {', '.join(missing)}.")


def _check_key_purpose(jwk: Mapping[str, Any], alg: str) -> None:
    key_ops = jwk.get("key_ops")
    if (
        jwk.get("use") != "sig"
        or not isinstance(key_ops, (list, tuple)) or "verify" not in key_ops
        or jwk.get("adcp_use") not in KEY_USES
        or (jwk.get("kty"), jwk.get("crv")) != ALGORITHMS[alg]
    ):
        raise SignatureRejected(
            KEY_PURPOSE_INVALID,
            f"The key must have use 'sig', key_ops ['verify'], adcp_use in {sorted(KEY_USES)} and suit {alg}.",
        )


def _signature_base(method: str, target_uri: str, headers: Mapping[str, str], label: _Label) -> bytes:
    lines = []
    try:
        for component in label.components:
            if component == "@method":
                value = method.upper()
            elif component == "@target-uri":
                value = canonical_target_uri(target_uri)
            elif component == "@authority":
                value = canonical_authority(target_uri)
            elif component.startswith("@"):
                raise ValueError(f"unsupported derived component {component}")
            else:
                header = _header(headers, component.lower())
                if header is None:
                    raise ValueError(f"the covered header {component} is missing")
                value = header.strip()
            lines.append(f'"{component}": {value}')
    except TargetUriMalformed as exc:
        raise SignatureRejected(TARGET_URI_MALFORMED, str(exc)) from None
    except ValueError as exc:
        raise SignatureRejected(HEADER_MALFORMED, str(exc)) from None
    lines.append(f'"@signature-params": {label.serialized}')
    return "\n".join(lines).encode()


def _signature_holds(alg: str, key, base: bytes, signature: bytes) -> bool:
    try:
        if alg == "ed25519":
            key.verify(signature, base)
            return True
        if len(signature) != 64:  # ES256 signatures are r || s (IEEE P1363), not DER
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        key.verify(encode_dss_signature(r, s), base, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def _check_strict_json(body: bytes) -> None:
    """Step 14: a signed body must mean one thing — no duplicate keys, NaN, overflow or lone surrogates."""
    if not body.strip(b" \t\n\r"):
        return

    def unique(pairs):
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    def finite(literal: str) -> float:
        if not math.isfinite(value := float(literal)):
            raise ValueError("non-finite number")
        return value

    def reject(literal: str):
        raise ValueError(f"{literal} is not JSON")

    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=unique, parse_float=finite, parse_constant=reject)
        # strict UTF-8 yields no surrogate: one in the value came from an unpaired \u escape
        if _has_lone_surrogate(value):
            raise ValueError("unpaired surrogate")
    except (ValueError, RecursionError):
        raise BodyMalformed(BODY_MALFORMED, "The signed body is not strict JSON.") from None


def _has_lone_surrogate(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if re.search(r"[\ud800-\udfff]", item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _coordinate(text: str) -> bytes:
    raw = _b64url_decode(text)
    if len(raw) != 32:
        raise ValueError("a key coordinate must be 32 bytes")
    return raw


def _b64url_decode(text: str) -> bytes:
    """Unpadded base64url with one spelling only (RFC 7515)."""
    if not isinstance(text, str) or re.search(r"[=+/]", text):
        raise ValueError("not unpadded base64url")
    raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        raise ValueError("non-canonical base64url")
    return raw


def _lenient_b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        pass
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None
