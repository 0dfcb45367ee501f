"""services: the buyer's webhook subscriptions — made, listed, deleted; their deliveries listed with
every attempt, and replayed. What the API checks before anything is stored is here; the sending is
services/notification_delivery.py."""

from __future__ import annotations

import base64
import secrets
import urllib.parse
from datetime import datetime

import psycopg

from ..config import settings
from ..domain.notifications import SECRET_BYTES, SECRET_PREFIX, DeliveryState, EventType, SubscriptionState
from ..store import notifications
from . import notifications as outbox

# An advertiser's subscriptions: each change fans out to every one of them, in the change's transaction.
MAX_SUBSCRIPTIONS = 25
MAX_REPLAY = 1000
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
BIGINT_MAX = 2**63 - 1


class Refused(Exception):
    """A request the API answers with an error; nothing was changed."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def new_secret() -> str:
    """Standard Webhooks: whsec_ + base64 of random bytes (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def url_problem(url: str) -> str | None:
    """Why a receiver URL is refused, or None. https only (the body and its signature travel in clear
    otherwise), but for this machine or MEDIABUY_NOTIFY_ALLOW_HTTP; no credentials in it (they would be
    stored and shown in clear); no fragment."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https:// URL"
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK and not settings().notify_allow_http:
        return "must be https:// (plain http only to this machine, for development)"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if parts.fragment or url.endswith("#"):
        return "must not have a fragment"
    if port == 0:
        return "port 0 is not a port"
    if any(c.isspace() for c in url):
        return "must not contain whitespace"
    return None


def create(conn: psycopg.Connection, advertiser_id: str, url: str, event_types: list[str] | None,
           description: str | None) -> dict:
    """A subscription and its secret (returned here only: it is kept sealed)."""
    problem = url_problem(url)
    if problem:
        raise Refused(422, "VALIDATION_ERROR", f"url {problem}.", "url")
    if len(notifications.list_subscriptions(conn, advertiser_id)) >= MAX_SUBSCRIPTIONS:
        raise Refused(409, "CONFLICT", f"An advertiser may have at most {MAX_SUBSCRIPTIONS} webhook subscriptions; "
                      "delete one first.")
    types = sorted(set(event_types)) if event_types else sorted(EventType)
    secret = new_secret()
    row = notifications.create_subscription(conn, advertiser_id, url, [str(t) for t in types], secret, description)
    return {**row, "secret": secret}


def list_for(conn: psycopg.Connection, advertiser_id: str) -> list[dict]:
    return notifications.list_subscriptions(conn, advertiser_id)


def get(conn: psycopg.Connection, advertiser_id: str, subscription_id: str) -> dict:
    row = notifications.get_subscription(conn, advertiser_id, subscription_id)
    if row is None:
        raise Refused(404, "NOT_FOUND", "No such webhook subscription of this advertiser.")
    return row


def delete(conn: psycopg.Connection, advertiser_id: str, subscription_id: str) -> None:
    if not notifications.delete_subscription(conn, advertiser_id, subscription_id):
        raise Refused(404, "NOT_FOUND", "No such webhook subscription of this advertiser.")


def deliveries(conn: psycopg.Connection, advertiser_id: str, subscription_id: str, limit: int,
               before: int | None, state: str | None) -> list[dict]:
    get(conn, advertiser_id, subscription_id)
    return notifications.list_deliveries(conn, subscription_id, limit, before, state)


def _replayable(conn: psycopg.Connection, advertiser_id: str, subscription_id: str) -> None:
    if get(conn, advertiser_id, subscription_id)["state"] != SubscriptionState.ACTIVE:
        raise Refused(409, "CONFLICT", "This subscription is disabled (its receiver answered 410 Gone): "
                      "nothing is sent to it. Create a new subscription.")


def replay(conn: psycopg.Connection, advertiser_id: str, subscription_id: str, delivery_id: int) -> None:
    """Deliver it again now, with a fresh count of attempts (the same webhook-id)."""
    _replayable(conn, advertiser_id, subscription_id)
    if delivery_id > BIGINT_MAX or not notifications.replay(conn, subscription_id, [delivery_id]):
        raise Refused(404, "NOT_FOUND", "No such delivery of this subscription.")
    outbox.wake_after_commit()


def replay_between(conn: psycopg.Connection, advertiser_id: str, subscription_id: str, since: datetime,
                   until: datetime, states: list[str] | None) -> list[int]:
    """Deliver again the subscription's deliveries of events made in [since, until), those in `states`
    (default: failed), at most MAX_REPLAY; the ids replayed."""
    if until <= since:
        raise Refused(422, "VALIDATION_ERROR", "until must be after since.", "until")
    _replayable(conn, advertiser_id, subscription_id)
    wanted = sorted(set(states or [DeliveryState.FAILED]))
    ids = notifications.replayable_between(conn, subscription_id, since, until, [str(s) for s in wanted], MAX_REPLAY)
    replayed = notifications.replay(conn, subscription_id, ids) if ids else []
    if replayed:
        outbox.wake_after_commit()
    return sorted(replayed)
