"""POST /webhooks/adcp/<agent_id>: verify, validate, commit to the inbox, enqueue, answer.

Never a 2xx before the event is committed; the enqueue may fail (the sweeper enqueues again).
"""

from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from ..adcp.payloads import load_webhook
from ..adcp.signatures import SignatureRejected, verify
from ..config import settings
from ..store import inbox
from ..store.db import transaction
from ..worker.app import INGEST, make_celery
from .errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
publisher = make_celery(fail_fast=True)


@bp.post("/webhooks/adcp/<agent_id>")
def receive(agent_id: str):
    s = settings()
    if request.mimetype != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Webhooks must be sent as application/json.")
    with transaction() as conn:
        auth = inbox.inbound_auth(conn, agent_id)
    if auth is None:
        raise ApiError(404, "NOT_FOUND", f"No sales agent {agent_id!r} is registered.")
    # Read with no database connection held, so a slow sender ties up nothing but its own request.
    body = _read_body(s.webhook_max_body_bytes)
    try:
        verify(auth, request.headers, body, time.time(), s.hmac_tolerance_seconds)
    except SignatureRejected as exc:
        log.info("webhook from %s rejected: %s", agent_id, exc.reason)
        raise ApiError(401, "UNAUTHORIZED", exc.message, {"reason": exc.reason},
                       {"WWW-Authenticate": exc.www_authenticate}) from None
    raw, document = _parse_json(body)
    try:
        payload = load_webhook(document)
    except ValidationError as exc:
        raise ApiError(400, "VALIDATION_ERROR", "The webhook payload is not valid ADCP.",
                       {"fields": exc.messages}) from None
    with transaction() as conn:
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
