"""adcp: an agent's JWKS — fetched with urllib (the web must not import the ADCP SDK), kept to the public
Ed25519 and P-256 keys that can verify its webhooks."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from .rfc9421 import public_key

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 64 * 1024
# What we keep of a key: its public part and the members the verifier judges its purpose by.
PUBLIC_MEMBERS = ("kid", "kty", "crv", "x", "y", "alg", "use", "key_ops", "adcp_use")


class JwksError(Exception):
    """The JWKS could not be fetched, or holds no usable key; nothing was changed."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # The registered URI is the one trusted; a redirect could lead anywhere (another host, ftp:).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} refused", headers, fp)


_opener = urllib.request.build_opener(_NoRedirects)


def check_uri(uri: str) -> None:
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise JwksError(f"a JWKS URI must be an http(s) URL: {uri!r}")


def fetch_jwks(uri: str, timeout: float, max_bytes: int = MAX_JWKS_BYTES) -> dict[str, dict[str, Any]]:
    """The usable public keys at `uri`, by kid. Raises JwksError."""
    check_uri(uri)
    request = urllib.request.Request(uri, headers={"Accept": "application/json", "Accept-Encoding": "identity"})
    try:
        with _opener.open(request, timeout=timeout) as response:
            raw = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise JwksError(f"fetching {uri} failed: {exc}") from exc
    if len(raw) > max_bytes:
        raise JwksError(f"the JWKS at {uri} is over {max_bytes} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise JwksError(f"the JWKS at {uri} is not JSON: {exc}") from exc
    return usable_keys(document, uri)


def usable_keys(document: Any, uri: str = "the JWKS") -> dict[str, dict[str, Any]]:
    """Index the document's usable keys by kid. Keys of other types are skipped (a JWKS may serve other
    purposes too); a key carrying private material is skipped, since anyone could sign with it."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise JwksError(f"{uri} has no 'keys' array")
    keys: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str) or not entry["kid"]:
            continue  # we look keys up by kid only
        kid = entry["kid"]
        if kid in seen:
            raise JwksError(f"{uri} lists the key id {kid!r} twice")
        seen.add(kid)
        if "d" in entry:
            log.warning("%s publishes the private part of key %r: key ignored", uri, kid)
            continue
        try:
            public_key(entry)
        except (ValueError, KeyError, TypeError) as exc:
            log.info("%s: key %r skipped (%s)", uri, kid, exc)
            continue
        keys[kid] = {name: entry[name] for name in PUBLIC_MEMBERS if name in entry}
    if not keys:
        raise JwksError(f"{uri} holds no Ed25519 or P-256 public key with a kid")
    return keys
