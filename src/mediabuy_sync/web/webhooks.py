"""POST /webhooks/adcp/<agent_id>: verify, validate, commit to the inbox, enqueue, answer.

Never a 2xx before the event is committed; the enqueue may fail (the sweeper enqueues again).
"""

from __future__ import annotations

import json
import logging
import time

from flask import jsonify, request
from marshmallow import Schema, ValidationError, fields

from ..adcp import jwks, rfc9421
from ..adcp.payloads import WebhookPayload, load_webhook
from ..adcp.signatures import RFC9421_SCHEME, InboundAuth, SignatureRejected, verify
from ..config import Settings, settings
from ..store import agents, inbox, nonces
from ..store.db import transaction
from ..worker.app import INGEST
from .api import ERROR_HEADERS, ApiBlueprint
from .errors import ApiError
from .publisher import publisher
from .schemas import ErrorEnvelope

log = logging.getLogger(__name__)
bp = ApiBlueprint("webhooks", __name__, description="ADCP webhooks from sales agents.")


class WebhookAccepted(Schema):
    event_id = fields.Integer(required=True)
    duplicate = fields.Boolean(metadata={"description": "true: this idempotency_key was already received."})


@bp.route("/webhooks/adcp/<id:agent_id>", methods=["POST"])
# Documented only: the body is verified on its raw bytes first, so it is not parsed by webargs.
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": WebhookPayload}}})
@bp.response(202, WebhookAccepted, description="Stored; it will be processed.")
@bp.alt_response(200, schema=WebhookAccepted, description="A duplicate: already stored, nothing changed.",
                 success=True)
@bp.alt_response(400, schema=ErrorEnvelope, description="Not JSON, or not a valid ADCP webhook (details.fields).")
@bp.alt_response(401, schema=ErrorEnvelope, description="Signature or token missing or wrong (WWW-Authenticate says why).",
                 headers=ERROR_HEADERS[401])
@bp.alt_response(404, schema=ErrorEnvelope, description="No such sales agent.")
@bp.alt_response(409, schema=ErrorEnvelope, description="This idempotency_key was used for another payload.")
@bp.alt_response(413, "REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, "UNSUPPORTED_MEDIA_TYPE")
def receive(agent_id: str):
    """Receive an ADCP webhook

    Signed with the agent's registered scheme: RFC 9421 (Signature-Input, Signature, Content-Digest),
    legacy HMAC-SHA256 (X-AdCP-Timestamp, X-AdCP-Signature) or Bearer. Verified on the raw body, then
    validated, committed to the inbox and enqueued.
    """
    s = settings()
    if request.mimetype != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Webhooks must be sent as application/json.")
    with transaction() as conn:
        auth = inbox.inbound_auth(conn, agent_id)
    if auth is None:
        raise ApiError(404, "NOT_FOUND", f"No sales agent {agent_id!r} is registered.")
    # Read with no database connection held, so a slow sender ties up nothing but its own request.
    body = _read_body(s.webhook_max_body_bytes)
    signed = None  # RFC 9421: the nonce to record with the event
    try:
        if auth.scheme == RFC9421_SCHEME:
            signed = _verify_rfc9421(auth, body, s)
        else:
            verify(auth, request.headers, body, time.time(), s.hmac_tolerance_seconds)
    except rfc9421.BodyMalformed as exc:
        raise ApiError(400, "BAD_REQUEST", exc.message, {"reason": exc.reason}) from None
    except SignatureRejected as exc:
        raise _unauthorized(agent_id, exc) from None
    raw, document = _parse_json(body)
    try:
        payload = load_webhook(document)
    except ValidationError as exc:
        raise ApiError(400, "VALIDATION_ERROR", "The webhook payload is not valid ADCP.",
                       {"fields": exc.messages}) from None
    with transaction() as conn:
        # In the event's transaction: a replay stores nothing, and a failed insert burns no nonce.
        if signed is not None and not nonces.claim(conn, agent_id, signed.nonce, signed.nonce_expires_at):
            raise _unauthorized(agent_id, SignatureRejected(rfc9421.REPLAYED, "This signature was already used."))
        stored = inbox.store_event(conn, agent_id, payload["idempotency_key"], payload["task_type"], raw)
    # committed: from here on the event is ours to process, whatever happens to the enqueue
    if not stored.inserted:
        if stored.raw_body != raw and json.loads(stored.raw_body) != document:
            raise ApiError(409, "CONFLICT", "This idempotency_key was used for a different payload.",
                           {"event_id": stored.event_id})
        return jsonify({"data": {"event_id": stored.event_id, "duplicate": True}, "error": None}), 200
    try:
        publisher.send_task(INGEST, args=[stored.event_id], retry=False)
    except Exception as exc:  # noqa: BLE001 - the inbox sweeper enqueues it again
        log.warning("event %s stored but not enqueued (%s); the sweeper will", stored.event_id, exc)
    return jsonify({"data": {"event_id": stored.event_id}, "error": None}), 202


def _unauthorized(agent_id: str, exc: SignatureRejected) -> ApiError:
    log.info("webhook from %s rejected: %s", agent_id, exc.reason)
    return ApiError(401, "UNAUTHORIZED", exc.message, {"reason": exc.reason},
                    {"WWW-Authenticate": exc.www_authenticate})


def _verify_rfc9421(auth: InboundAuth, body: bytes, s: Settings) -> rfc9421.Verified:
    target_uri = _target_uri(s.public_base_url)
    try:
        return rfc9421.verify_webhook(request.method, target_uri, request.headers, body, auth.public_jwks, time.time())
    except rfc9421.UnknownKeyId:
        # The agent may have rotated to a key we have not fetched yet: look again, then verify once more.
        keys = _keys_after_refresh(auth.agent_id, s)
        return rfc9421.verify_webhook(request.method, target_uri, request.headers, body, keys, time.time())


def _target_uri(public_base_url: str) -> str:
    """The URL the agent signed: our public base URL when one is set (a proxy in front of us changes
    scheme or host), else the scheme and Host received; then the path and query exactly as received."""
    path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if not path.startswith("/"):  # no raw request target from the server: rebuild it
        path = request.full_path if request.query_string else request.path
    base = public_base_url.rstrip("/") if public_base_url else f"{request.scheme}://{request.host}"
    return base + path


def _keys_after_refresh(agent_id: str, s: Settings) -> dict:
    """The agent's keys after fetching its JWKS again — by one process at most per agent and interval
    (an unknown key id costs an attacker nothing to send); the others read what that one stored."""
    with transaction() as conn:
        jwks_uri = agents.claim_jwks_refresh(conn, agent_id, s.jwks_refresh_interval_seconds)
    if jwks_uri is not None:
        try:
            keys = jwks.fetch_jwks(jwks_uri, s.jwks_fetch_timeout_seconds)
        except jwks.JwksError as exc:
            log.warning("JWKS refresh of %s failed: %s", agent_id, exc)
        else:
            with transaction() as conn:
                retired = agents.store_jwks(conn, agent_id, keys)
            log.info("JWKS of %s refreshed: keys %s, retired %s", agent_id, sorted(keys), retired)
            return keys
    with transaction() as conn:
        return agents.active_jwks(conn, agent_id)


def _read_body(limit: int) -> bytes:
    """The raw body, refused with 413 past `limit`: up front from Content-Length, else while reading."""
    too_large = ApiError(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    # gunicorn ends a chunked body itself but does not say so (wsgi.input_terminated), so Werkzeug
    # would hand us an empty stream: read the server's input directly, never past limit + 1.
    stream = request.stream if request.content_length is not None else request.input_stream
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def _parse_json(body: bytes) -> tuple[str, object]:
    try:
        raw = body.decode("utf-8")
        return raw, json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ApiError(400, "BAD_REQUEST", "The body is not valid JSON.", {"reason": str(exc)}) from None
