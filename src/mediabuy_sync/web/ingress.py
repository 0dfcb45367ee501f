"""web: POST /webhooks/adcp/<agent_id> answered in front of Flask — a WSGI middleware around the app.

Why: webhooks are the one route that carries the agents' load, and Flask's request machinery
(request context, URL matching, before/after hooks, flask-smorest's response wrappers, a Response
object per answer) cost more of the web's CPU per webhook than verifying, validating and storing it
together (bench.profile_web: ~900 accepted/s through Flask, ~1,250 here, with the same handler).
What Flask's hooks do for every other route, this does for webhooks: the request id (X-Request-ID in
and out, the log context), the HTTP and webhook counters with the log line, and the same JSON error
envelope (errors.py). The route stays declared in webhooks.py for the OpenAPI document; any other
method on it, and every other path, goes to Flask.
"""

from __future__ import annotations

import json
import logging
import re
import socket

from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request
from werkzeug.wsgi import ClosingIterator

from .. import logs, metrics
from ..store.db import Unavailable
from . import webhooks
from .errors import ApiError, api_error_parts, db_unavailable_parts, http_error_parts, unexpected_parts
from .schemas import ID_PATTERN

ROUTE = "/webhooks/adcp/<id:agent_id>"  # the route's label in the HTTP counter, as Flask's routes are labelled
_PATH = re.compile(rf"/webhooks/adcp/({ID_PATTERN})\Z")  # the same paths the route's <id:…> converter takes

log = logging.getLogger(__name__)


class WebhookIngress:
    """Wraps the Flask app's wsgi_app; answers webhook POSTs itself."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            match = _PATH.match(environ.get("PATH_INFO", ""))
            if match is not None:
                return self._webhook(environ, start_response, match[1])
        return self.app(environ, start_response)

    def _webhook(self, environ, start_response, agent_id: str):
        logs.clear()
        request_id = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        logs.bind(request_id=request_id)
        try:
            status, answer = webhooks.handle(Request(environ), agent_id, request_id)
            headers: dict = {}
        except ApiError as exc:
            status, answer, headers = api_error_parts(exc)
        except HTTPException as exc:  # e.g. Werkzeug's ClientDisconnected for a body cut short
            status, answer, headers = http_error_parts(exc)
        except Unavailable as exc:
            status, answer, headers = db_unavailable_parts(exc)
        except Exception:  # noqa: BLE001 - answered in the envelope and logged with its traceback
            status, answer, headers = unexpected_parts()
        _count(environ, status, answer)
        body = json.dumps(answer, separators=(",", ":")).encode()
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN')}", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("X-Request-ID", request_id),
            *headers.items(),
        ])
        logs.clear()
        sock = environ.get("gunicorn.socket")
        if environ.get(webhooks.CLOSE_KEY) and sock is not None:
            return ClosingIterator([body], lambda: _shut(sock))
        return [body]


# Answers of the webhook endpoint → (outcome, reason) of mediabuy_webhooks_received_total. 401's
# reason is the SignatureRejected reason the answer carries (our own fixed strings).
_REJECTIONS = {
    404: "not_found",
    408: "slow_body",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def webhook_outcome(status: int, answer: dict | None) -> tuple[str, str]:
    """(outcome, reason) of one answer of POST /webhooks/adcp/<agent_id>."""
    error = (answer or {}).get("error") or {}
    if status == 202:
        return "accepted", ""
    if status == 200:
        return "duplicate", ""
    if status >= 500:
        return "error", "unavailable" if status == 503 else "internal_error"
    if status == 401:
        reason = (error.get("details") or {}).get("reason")
        return "rejected", reason if isinstance(reason, str) and reason.isidentifier() else "unauthorized"
    if status == 400:
        if error.get("code") == "VALIDATION_ERROR":
            return "rejected", "invalid_payload"
        reason = (error.get("details") or {}).get("reason")
        if isinstance(reason, str) and reason.startswith("webhook_") and reason.isidentifier():
            return "rejected", reason  # an RFC 9421 body check (rfc9421.BODY_MALFORMED)
        return "rejected", "not_json" if "not valid JSON" in str(error.get("message")) else "malformed_body"
    return "rejected", _REJECTIONS.get(status, f"http_{status}")


def _count(environ, status: int, answer: dict) -> None:
    metrics.HTTP_REQUESTS.labels(ROUTE, f"{status // 100}xx").inc()
    outcome, reason = webhook_outcome(status, answer)
    agent = environ.get(webhooks.AGENT_KEY) or metrics.UNKNOWN_AGENT  # set once the agent is known
    metrics.WEBHOOKS_RECEIVED.labels(agent, outcome, reason).inc()
    logs.bind(agent_id=agent, event_id=(answer.get("data") or {}).get("event_id"))
    log.info("webhook %s%s (%s)", outcome, f" {reason}" if reason else "", status)


def _shut(sock) -> None:
    """After the answer to a body that did not arrive in time: the connection is left mid-body."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
