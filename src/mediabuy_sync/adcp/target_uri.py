"""adcp: @target-uri and @authority as ADCP's RFC 9421 profile canonicalizes them.

Ported from the SDK's adcp.signing.canonical (which the web must not import): RFC 3986 §6.2
normalization — scheme and host lower-cased, default port dropped, dot-segments removed, %xx upper-cased
and unreserved characters decoded — with the query kept byte for byte. Malformed authorities are refused
rather than guessed at, since a guess the signer did not make breaks the signature silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class TargetUriMalformed(ValueError):
    """An authority the profile refuses to canonicalize (webhook_target_uri_malformed)."""


def canonical_target_uri(url: str) -> str:
    parts = _split(url)
    scheme = parts.scheme.lower()
    target = urlunsplit((scheme, _authority(parts.netloc, scheme), _path(parts.path) or "/", parts.query, ""))
    if not parts.query and "?" in url.split("#", 1)[0]:
        target += "?"  # urlsplit forgets an empty query, but "/p?" and "/p" are different URLs
    return target


def canonical_authority(url: str) -> str:
    parts = _split(url)
    return _authority(parts.netloc, parts.scheme.lower())


def authority_reason(headers: Mapping[str, str], url: str) -> str | None:
    """Why the Host header or the URL's authority cannot be canonicalized, judged before any key or
    nonce is looked at; None when both can. A raw non-ASCII host is refused, never re-normalized."""
    for name, value in headers.items():
        if name.lower() != "host":
            continue
        if not value.isascii():
            return "the Host header carries raw non-ASCII bytes"
        shape = malformed_authority_reason(value)
        if shape:
            return f"the Host header is malformed: {shape}"
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None  # refused, with the same reason, while the signature base is built
    if not netloc.isascii():
        return "the URL's authority carries raw non-ASCII bytes"
    return None


def malformed_authority_reason(authority: str) -> str | None:
    host = authority.rsplit("@", 1)[-1]
    if not host:
        return "no host"
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return "a bracketed IPv6 host without its closing bracket"
        if "%" in host[1:end]:
            return "an IPv6 zone identifier"
        return None
    if host.count(":") > 1:
        return "an IPv6 address outside brackets"
    if not host.split(":", 1)[0]:
        return "a port but no host"
    return None


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise TargetUriMalformed(f"the URL cannot be parsed ({exc})") from exc


def _authority(netloc: str, scheme: str) -> str:
    reason = malformed_authority_reason(netloc)
    if reason:
        raise TargetUriMalformed(f"malformed authority {netloc!r}: {reason}")
    netloc = netloc.rsplit("@", 1)[-1]
    port = None
    if netloc.startswith("["):
        end = netloc.find("]")
        host, tail = netloc[: end + 1], netloc[end + 1:]
        if tail.startswith(":"):
            port = _port(tail[1:], netloc)
    elif ":" in netloc:
        host, port_text = netloc.rsplit(":", 1)
        port = _port(port_text, netloc)
    else:
        host = netloc
    host = host.removesuffix(".")
    if not host or "" in host.split("."):
        raise TargetUriMalformed(f"malformed authority {netloc!r}: no host once normalized")
    if not host.isascii():
        # the signer sends the A-label; authority_reason refuses a U-label before we get here
        raise TargetUriMalformed(f"malformed authority {netloc!r}: a non-ASCII host")
    host = host.lower()
    return f"{host}:{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else host


def _port(text: str, netloc: str) -> int | None:
    if not text:
        return None  # "host:" means the default port
    # ASCII digits only: int() would also read "8_0" and Arabic-Indic digits as 80
    if not all("0" <= char <= "9" for char in text):
        raise TargetUriMalformed(f"malformed authority {netloc!r}: the port is not digits")
    return int(text)


def _path(path: str) -> str:
    return _normalize_percent(_remove_dot_segments(path))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4."""
    rest, output = path, ""
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith("./"):
            rest = rest[2:]
        elif rest.startswith("/./"):
            rest = "/" + rest[3:]
        elif rest == "/.":
            rest = "/"
        elif rest.startswith("/../") or rest == "/..":
            rest = "/" + rest[4:]
            output = output[: max(output.rfind("/"), 0)]
        elif rest in (".", ".."):
            rest = ""
        else:
            end = rest.find("/", 1 if rest.startswith("/") else 0)
            if end < 0:
                output, rest = output + rest, ""
            else:
                output, rest = output + rest[:end], rest[end:]
    return output


def _normalize_percent(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and i + 2 < len(text):
            try:
                char = chr(int(text[i + 1: i + 3], 16))
            except ValueError:
                out.append("%")
                i += 1
                continue
            out.append(char if char in _UNRESERVED else "%" + text[i + 1: i + 3].upper())
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
