"""sim: the caller's token, as a real seller checks it — raw in `x-adcp-auth` (or the configured header),
or `Authorization: Bearer <token>` where the agent takes that too (knobs auth_required, auth_header,
auth_bearer; the tokens from the agent's `auth_tokens`, any non-empty one when none are listed).

Checked on every /mcp request before MCP sees it, so a missing token fails the session's opening as well
as each call, the way the reference seller answers: `AUTH_REQUIRED: Provide a valid x-adcp-auth token`.
Standard library only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def presented_token(headers: dict[str, str], header: str, bearer: bool) -> tuple[str | None, str | None]:
    """(token, why it is refused) from lower-cased request headers; (None, reason) when absent or malformed."""
    raw = headers.get(header.lower())
    if raw is not None:
        value = raw.strip()
        if value.lower().startswith("bearer "):
            # The reference seller reads the header raw: "Bearer <tok>" there is no token of its tenant.
            return None, f"the {header} value is invalid for this tenant (send the raw token, no 'Bearer ' prefix)"
        if value:
            return value, None
    if bearer:
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip(), None
    return None, None


def refusal(headers: dict[str, str], *, header: str, bearer: bool, tokens: Iterable[str]) -> str | None:
    """None when the request carries an accepted token, else the AUTH_REQUIRED message to answer."""
    token, reason = presented_token(headers, header, bearer)
    if token is None:
        return reason or f"Provide a valid {header} token"
    known = list(tokens)
    if known and not any(hmac.compare_digest(token.encode(), t.encode()) for t in known):
        return f"The {header} token is not valid for this seller"
    return None
