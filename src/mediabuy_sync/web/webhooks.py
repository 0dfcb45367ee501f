"""web: POST /webhooks/adcp/<agent_id> — the HTTP edge of services/webhook_intake.py.

Read the body within its limits, verify, validate, store, answer: never a 2xx before the event is
committed (webhook_intake.store). Answered in front of Flask by ingress.py (the route is declared
here for the OpenAPI document and the URL map); refusals are ApiErrors in the one envelope.
"""

from __future__ import annotations

import json
import logging
import time

from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request

from ..adcp import rfc9421
from ..adcp.payloads import WebhookPayload, load_webhook
from ..adcp.signatures import SignatureRejected
from ..config import Settings, settings
from ..services import webhook_intake as intake
from .api import ERROR_HEADERS, ApiBlueprint
from .errors import ApiError
from .ratelimit import AgentRateLimiter, retry_after_header
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
@bp.alt_response(408, schema=ErrorEnvelope, description="The body did not arrive within MEDIABUY_WEBHOOK_BODY_TIMEOUT_SECONDS.")
@bp.alt_response(413, "REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, "UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(429, schema=ErrorEnvelope, description="Over the agent's rate (MEDIABUY_WEBHOOK_RATE_PER_AGENT): nothing stored; "
                 "retry after Retry-After seconds.", headers=ERROR_HEADERS[429])
def receive(agent_id: str):
    """Receive an ADCP webhook

    Signed with the agent's registered scheme: RFC 9421 (Signature-Input, Signature, Content-Digest),
    legacy HMAC-SHA256 (X-AdCP-Timestamp, X-AdCP-Signature) or Bearer. Verified on the raw body, then
    validated, committed to the inbox and enqueued.
    """
    # Never reached: web/ingress.py, a WSGI middleware in front of Flask, answers every POST to this
    # path with handle() below — a webhook's handling starts there (Flask's request machinery cost
    # more per webhook than the work itself). The route is declared here for the OpenAPI document and
    # the URL map (a GET is a 405 in our envelope).
    raise RuntimeError("POST /webhooks/adcp/<agent_id> is answered by web/ingress.py with webhooks.handle()")


# What handle() leaves in the WSGI environ for the ingress: the agent, once it is known to be
# registered (a safe label for the webhook counter), and whether to close the connection after the answer.
AGENT_KEY = "mediabuy.webhook_agent"
CLOSE_KEY = "mediabuy.close_after_answer"


def handle(req: Request, agent_id: str, request_id: str) -> tuple[int, dict]:
    """(status, answer) of one webhook POST: 202 stored, 200 a duplicate; refusals raise ApiError."""
    s = settings()
    auth, kept = intake.credentials(agent_id)
    if auth is None:
        raise ApiError(404, "NOT_FOUND", f"No sales agent {agent_id!r} is registered.")
    req.environ[AGENT_KEY] = agent_id  # after the agent is known, so that this rejection is counted against it too
    if req.mimetype != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Webhooks must be sent as application/json.")
    # Read with no database connection held, so a slow sender ties up nothing but its own request.
    body = _read_body(req, s.webhook_max_body_bytes, s.webhook_body_timeout_seconds)
    try:
        signed = intake.verify_signature(auth, kept, req.method, _target_uri(req, s.public_base_url), req.headers,
                                         body, s)
    except rfc9421.BodyMalformed as exc:
        raise ApiError(400, "BAD_REQUEST", exc.message, {"reason": exc.reason}) from None
    except SignatureRejected as exc:
        raise _unauthorized(agent_id, exc) from None
    _within_rate(agent_id, s)
    raw, document = _parse_json(body)
    try:
        payload = load_webhook(document)
    except ValidationError as exc:
        raise ApiError(400, "VALIDATION_ERROR", "The webhook payload is not valid ADCP.",
                       {"fields": exc.messages}) from None
    try:
        stored = intake.store((agent_id, payload["idempotency_key"], payload["task_type"], raw, request_id), document,
                              signed, s)
    except intake.Conflict as exc:
        raise ApiError(409, "CONFLICT", "This idempotency_key was used for a different payload.",
                       {"event_id": exc.event_id}) from None
    except SignatureRejected as exc:  # an RFC 9421 nonce used before: a replay
        raise _unauthorized(agent_id, exc) from None
    # committed: from here on the event is ours to process, whatever happens to the drain request
    if not stored.inserted:
        return 200, {"data": {"event_id": stored.event_id, "duplicate": True}, "error": None}
    try:
        intake.request_drain(s)
    except Exception as exc:  # noqa: BLE001 - the next webhook's drain or the inbox sweeper takes it
        log.warning("event %s stored but no drain queued (%s); the next one or the sweeper will", stored.event_id, exc)
    return 202, {"data": {"event_id": stored.event_id}, "error": None}


_limiter: AgentRateLimiter | None = None


def _within_rate(agent_id: str, s: Settings) -> None:
    """429 past the agent's rate in this process; only verified requests get here, so only the agent
    itself can spend its budget. Before the inbox: a refused event is not stored (the agent retries)."""
    global _limiter
    if _limiter is None:
        _limiter = AgentRateLimiter(s.webhook_rate_per_agent, s.webhook_burst_per_agent)
    wait = _limiter.acquire(agent_id)
    if wait:
        retry_after = retry_after_header(wait)
        raise ApiError(429, "RATE_LIMITED", f"Too many webhooks from {agent_id}; retry after {retry_after} s. "
                       "Nothing was stored.", {"reason": "rate_limited", "retry_after": int(retry_after)},
                       {"Retry-After": retry_after})


def _unauthorized(agent_id: str, exc: SignatureRejected) -> ApiError:
    log.info("webhook from %s rejected: %s", agent_id, exc.reason)
    return ApiError(401, "UNAUTHORIZED", exc.message, {"reason": exc.reason},
                    {"WWW-Authenticate": exc.www_authenticate})


def _target_uri(request: Request, public_base_url: str) -> str:
    """The URL the agent must have signed: our public base URL (required: the web does not start
    without it), then the path and query exactly as received. Never the Host or X-Forwarded-* of the
    request: a webhook signed for another receiver (staging, another deployment with the same agent
    id) fails here as webhook_signature_invalid, its @authority and @target-uri are not ours."""
    path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if not path.startswith("/"):  # no raw request target from the server: rebuild it
        path = request.full_path if request.query_string else request.path
    return public_base_url.rstrip("/") + path


# Read in pieces, so the whole-body deadline is checked between them, not only per socket read.
_READ_PIECE = 16384


def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The raw body, refused with 413 past `limit` (up front from Content-Length, else while reading)
    and with 408 unless it all arrives within `timeout` seconds: gunicorn's threads have no read
    timeout of their own, so a sender dribbling bytes would hold a thread for as long as it likes."""
    too_large = ApiError(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit} bytes.", {"reason": "payload_too_large"})
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    # gunicorn ends a chunked body itself but does not say so (wsgi.input_terminated), so Werkzeug
    # would hand us an empty stream: read the server's input directly, never past limit + 1.
    stream = request.stream if request.content_length is not None else request.input_stream
    sock = request.environ.get("gunicorn.socket")
    deadline = time.monotonic() + timeout
    pieces: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if sock is not None:
                sock.settimeout(remaining)
            piece = stream.read(min(_READ_PIECE, limit + 1 - size))
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
    except (TimeoutError, ClientDisconnected) as exc:
        # Werkzeug reports a socket timeout under a Content-Length as a disconnect: tell them apart.
        if not isinstance(exc, TimeoutError) and not isinstance(exc.__context__, TimeoutError):
            raise
        log.info("webhook body not received within %s s", timeout)
        # The connection is left mid-body: the ingress closes it once the answer is sent. (gunicorn
        # drops a Connection: close from the app and would keep it alive, then drain the rest of the
        # slow body with no timeout before the next request.)
        request.environ[CLOSE_KEY] = True
        raise ApiError(408, "REQUEST_TIMEOUT", f"The body did not arrive within {timeout:g} s; nothing was stored.",
                       {"reason": "slow_body"}) from None
    finally:
        if sock is not None:
            sock.settimeout(None)  # blocking again, as gunicorn keeps it between keep-alive requests
    if size > limit:
        raise too_large
    return b"".join(pieces)


def _parse_json(body: bytes) -> tuple[str, object]:
    try:
        raw = body.decode("utf-8")
        return raw, json.loads(raw)
    # ValueError: also a number past Python's 4300-digit limit (JSONDecodeError is one too)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, "BAD_REQUEST", "The body is not valid JSON.", {"reason": str(exc)}) from None
