"""services: a webhook from an agent, accepted — verified against the agent's credentials, committed to
the inbox, and an inbox drain asked for. web/webhooks.py is its HTTP edge.

The hot path is counted in round trips: the agent's credentials are kept for a few seconds
(agent_credentials.py), the event is one autocommit insert shared with the webhooks the process
receives meanwhile (group_commit.py; an RFC 9421 nonce and its event share a transaction of their own
instead), the drain one Redis SET NX per window (queue/drain_requests.py) — bench/: ingest.
Never anything after a failed commit: the caller answers 2xx only once store() has returned.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from .. import metrics
from ..adcp import rfc9421
from ..adcp.signatures import COMPACT_JSON, RFC9421_SCHEME, InboundAuth, SignatureRejected, verify
from ..config import Settings, settings
from ..queue import coalesce
from ..queue.drain_requests import DrainRequests
from ..queue.names import PURGE_NONCES
from ..queue.publisher import publisher
from ..store import inbox, nonces
from ..store.db import autocommit, transaction
from ..store.periodic import claim_turn
from . import agent_credentials, jwks_refresh
from .group_commit import GroupCommit

log = logging.getLogger(__name__)


class Conflict(Exception):
    """The idempotency_key was already used for another payload (nothing stored)."""

    def __init__(self, event_id: int):
        super().__init__(f"idempotency_key used for event {event_id} with another payload")
        self.event_id = event_id


def credentials(agent_id: str) -> tuple[InboundAuth | None, bool]:
    """(the agent's credentials or None if no such agent, whether they were kept rather than read now)."""
    return agent_credentials.lookup(agent_id)


def verify_signature(auth: InboundAuth, kept: bool, method: str, target_uri: str, headers: Mapping[str, str],
                     body: bytes, s: Settings) -> rfc9421.Verified | None:
    """Check the webhook against the agent's scheme; returns the RFC 9421 signature's nonce to record
    with the event (None for HMAC and Bearer). Raises SignatureRejected, or rfc9421.BodyMalformed.
    Kept credentials are dropped when they change (agent_credentials.py): a refusal reads again at most
    once a second per agent."""
    if auth.scheme == RFC9421_SCHEME:
        return _verify_rfc9421(auth, method, target_uri, headers, body)
    try:
        how = verify(auth, headers, body, time.time(), s.hmac_tolerance_seconds)
    except SignatureRejected:
        # A secret added a moment ago whose notification this process has not handled yet: read
        # again, but at most once a second per agent, so a flood of bad signatures costs no round trips.
        if not kept or not agent_credentials.may_read_again(auth.agent_id):
            raise
        auth, _ = agent_credentials.lookup(auth.agent_id, fresh=True)
        if auth is None or auth.scheme == RFC9421_SCHEME:
            raise
        how = verify(auth, headers, body, time.time(), s.hmac_tolerance_seconds)
    if how == COMPACT_JSON:
        metrics.HMAC_COMPACT_JSON.labels(auth.agent_id).inc()
    return None


def _verify_rfc9421(auth: InboundAuth, method: str, target_uri: str, headers: Mapping[str, str],
                    body: bytes) -> rfc9421.Verified:
    try:
        return rfc9421.verify_webhook(method, target_uri, headers, body, auth.public_jwks, time.time(),
                                      revoked_key_ids=auth.revoked_key_ids)
    except rfc9421.UnknownKeyId:
        # The agent may have rotated to a key we have not fetched yet: refused now (a stranger can send
        # any key id for free), and the agent's JWKS fetched in the background; the agent's retry
        # finds the new key (the refresh's commit drops the kept credentials in every process).
        jwks_refresh.request(auth.agent_id)
        raise


def store(event: inbox.Event, document: object, signed: rfc9421.Verified | None, s: Settings) -> inbox.Stored:
    """Commit the event (agent, idempotency key, task type, raw body, request id) to the inbox, or find
    it there already (Stored.inserted False: a duplicate). Raises Conflict when its key was used for
    another payload, SignatureRejected when an RFC 9421 nonce was (a replay): nothing stored then."""
    if signed is None:
        # one statement, shared with the webhooks this process receives meanwhile: the event is
        # committed, or it was there already
        stored = _group_commit(s).store(event)
        _refuse_a_conflict(stored, event[3], document)
        return stored
    with transaction() as conn:
        # The per-key replay-cache cap (spec step 9a): refused, never evicted. Checked here rather than
        # before the signature: only verified signatures add nonces, so only the key's holder fills it.
        if nonces.key_at_cap(conn, event[0], signed.key_id, s.rfc9421_nonces_per_key):
            raise SignatureRejected(rfc9421.RATE_ABUSE, "Too many live nonces for this key: slow down.")
        # In the event's transaction: a replay stores nothing, and a failed insert burns no nonce.
        if not nonces.claim(conn, event[0], signed.nonce, signed.nonce_expires_at, signed.key_id):
            raise SignatureRejected(rfc9421.REPLAYED, "This signature was already used.")
        stored = inbox.store_event(conn, *event)
        _refuse_a_conflict(stored, event[3], document)  # raised inside: the nonce is not recorded either
    return stored


def _refuse_a_conflict(stored: inbox.Stored, raw: str, document: object) -> None:
    """A duplicate inserted nothing: the same payload is fine, another one is a Conflict."""
    if not stored.inserted and stored.raw_body != raw and json.loads(stored.raw_body) != document:
        raise Conflict(stored.event_id)


def request_drain(s: Settings) -> None:
    """After a commit: make sure an inbox drain is queued (at most one request per window per
    process). Raises what the broker raised: the caller logs it, the event waits for the next
    webhook's drain or the inbox sweeper."""
    _drain_requests(s).after_commit()


_commits: GroupCommit[inbox.Event, inbox.Stored] | None = None


def _group_commit(s: Settings) -> GroupCommit[inbox.Event, inbox.Stored]:
    global _commits
    if _commits is None:
        _commits = GroupCommit(_store_events, s.webhook_batch_wait_seconds)
    return _commits


def _store_events(events: list[inbox.Event]) -> list[inbox.Stored | Exception]:
    with autocommit() as conn:
        return inbox.store_events(conn, events)


_drains: DrainRequests | None = None


def _drain_requests(s: Settings) -> DrainRequests:
    global _drains
    if _drains is None:
        _drains = DrainRequests(lambda: coalesce.request_drain(publisher), s.webhook_drain_window_seconds)
    return _drains


def purge_nonces() -> int:
    """Beat's purge: forget RFC 9421 nonces past their expiry (a signature that old fails its window
    check anyway)."""
    with transaction() as conn:
        if not claim_turn(conn, PURGE_NONCES, settings().nonce_purge_interval_seconds):
            return 0
        return nonces.purge_expired(conn)
