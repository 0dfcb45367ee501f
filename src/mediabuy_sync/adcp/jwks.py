"""adcp: an agent's JWKS — fetched with the stdlib's http.client (the web must not import the ADCP SDK),
kept to the public Ed25519 and P-256 keys that can verify its webhooks.

A fetch has one deadline for everything (connect, TLS, headers, body): a timer shuts the socket when
it passes, however slowly the server drips (a per-read timeout let one byte every 2 s hold a fetch for
80 s, issue 20). https only, unless the caller allows http (MEDIABUY_JWKS_ALLOW_HTTP, development).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .rfc9421 import public_key

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 64 * 1024
# What we keep of a key: its public part and the members the verifier judges its purpose by.
PUBLIC_MEMBERS = ("kid", "kty", "crv", "x", "y", "alg", "use", "key_ops", "adcp_use")


class JwksError(Exception):
    """The JWKS could not be fetched, or holds no usable key; nothing was changed."""


def check_uri(uri: str, allow_http: bool = False) -> None:
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        parts = None
    schemes = ("http", "https") if allow_http else ("https",)
    if parts is None or parts.scheme.lower() not in schemes or not parts.hostname:
        raise JwksError(f"a JWKS URI must be an {'http(s)' if allow_http else 'https'} URL: {uri!r}"
                        + ("" if allow_http else " (http only with MEDIABUY_JWKS_ALLOW_HTTP=1, for development)"))


def fetch_jwks(uri: str, timeout: float, max_bytes: int = MAX_JWKS_BYTES,
               allow_http: bool = False) -> dict[str, dict[str, Any]]:
    """The usable public keys at `uri`, by kid, within `timeout` seconds in all. Raises JwksError.
    No redirects: the registered URI is the one trusted."""
    check_uri(uri, allow_http)
    parts = urllib.parse.urlsplit(uri)
    try:
        port = parts.port
    except ValueError as exc:
        raise JwksError(f"a JWKS URI must be an http(s) URL: {uri!r}") from exc
    if parts.scheme.lower() == "https":
        conn = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    expired = threading.Event()
    opened: list[socket.socket] = []  # held here: http.client lets go of conn.sock once a response will close

    def cut():  # the deadline: whatever the connection is waiting for, it stops now
        expired.set()
        for sock in opened:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, cut)
    timer.daemon = True
    timer.start()
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.connect()  # within `timeout` itself (the socket's connect timeout)
        opened.append(conn.sock)
        if expired.is_set():
            raise TimeoutError
        conn.request("GET", path, headers={"Accept": "application/json", "Accept-Encoding": "identity"})
        response = conn.getresponse()
        if response.status != 200:
            raise JwksError(f"fetching {uri} failed: HTTP {response.status}")
        raw = b""
        while len(raw) <= max_bytes:
            piece = response.read1(max_bytes + 1 - len(raw))
            if not piece:
                break
            raw += piece
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set():
            raise JwksError(f"fetching {uri} took over {timeout:g} s") from exc
        raise JwksError(f"fetching {uri} failed: {exc}") from exc
    finally:
        timer.cancel()
        conn.close()
    if expired.is_set():
        raise JwksError(f"fetching {uri} took over {timeout:g} s")
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
