"""web: the one error envelope, {"data": null, "error": {"code", "message", "field"?, "details"}}."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ..config import settings
from ..store.db import Unavailable

log = logging.getLogger(__name__)

# Our codes for the HTTP errors Werkzeug raises itself.
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


class ApiError(Exception):
    """Raise to answer with the error envelope; `field` names the (first) field it is about."""

    def __init__(self, status: int, code: str, message: str, details: object = None, headers: dict | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}
        self.field = field


def envelope(code: str, message: str, details: object = None, field: str | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error["details"] = details
    return {"data": None, "error": error}


# (status, body, headers) of each kind of error: Flask's handlers below answer with them, and so
# does web/ingress.py, which answers webhooks outside Flask.
def api_error_parts(exc: ApiError) -> tuple[int, dict, dict]:
    return exc.status, envelope(exc.code, exc.message, exc.details, exc.field), exc.headers


def http_error_parts(exc: HTTPException) -> tuple[int, dict, dict]:
    """(status, body, headers) of one of Werkzeug's HTTP errors (no webargs messages: see http_error)."""
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    status = exc.code or 500
    return status, envelope(_HTTP_CODES.get(status, "HTTP_ERROR"), exc.description or exc.name), headers


def db_unavailable_parts(exc: Exception) -> tuple[int, dict, dict]:
    log.warning("PostgreSQL unavailable: %s", exc)
    return (503, envelope("SERVICE_UNAVAILABLE", "The database is unavailable; nothing was stored. Retry later."),
            {"Retry-After": str(settings().retry_after_seconds)})


def unexpected_parts() -> tuple[int, dict, dict]:
    log.exception("unhandled error")  # in an except block: with the traceback
    return 500, envelope("INTERNAL_ERROR", "An unexpected error occurred."), {}


# Where webargs found the errors, as the answer names it.
_LOCATIONS = {"json": "body", "querystring": "query", "query": "query", "view_args": "path", "path": "path"}


def validation_error(messages_by_location: dict, status: int = 422) -> ApiError:
    """VALIDATION_ERROR naming every bad field as a dotted path (products.0.budget), from the
    messages marshmallow gives, namespaced by location as webargs does: {"json": {…}}."""
    fields: dict[str, list[str]] = {}
    location = "body"
    for where, messages in messages_by_location.items():
        location = _LOCATIONS.get(where, where)
        for path, texts in flatten_messages(messages).items():
            fields.setdefault(path or location, []).extend(texts)
    first = next(iter(fields), location)
    message = f"{first}: {fields[first][0]}" if fields.get(first) else "The request is not valid."
    if len(fields) > 1:
        message += f" (and {len(fields) - 1} more field{'s' if len(fields) > 2 else ''})"
    return ApiError(status, "VALIDATION_ERROR", message, {"location": location, "fields": fields}, field=first)


def flatten_messages(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {dotted path: [messages]}; a schema-level error is its parent's."""
    flat: dict[str, list[str]] = {}

    def add(path: str, texts: list[str]) -> None:
        flat.setdefault(path, []).extend(texts)

    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            for sub, texts in flatten_messages(value, path).items():
                add(sub, texts)
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                for sub, texts in flatten_messages(item, prefix).items():
                    add(sub, texts)
            else:
                add(prefix, [str(item)])
    else:
        add(prefix, [str(messages)])
    return flat


def http_error(exc: HTTPException):
    """Werkzeug's and flask-smorest's HTTP errors, in the envelope."""
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # a webargs abort that did not go through our parser
        return _api_error(validation_error(data["messages"], exc.code or 422))
    status, body, headers = http_error_parts(exc)
    return jsonify(body), status, headers


def answer(exc: ApiError):
    """The response for an ApiError (blueprints' own error handlers answer with it too)."""
    status, body, headers = api_error_parts(exc)
    return jsonify(body), status, headers


_api_error = answer


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, http_error)

    def _db_unavailable(exc: Exception):
        status, body, headers = db_unavailable_parts(exc)
        return jsonify(body), status, headers

    for exc_type in Unavailable:
        app.register_error_handler(exc_type, _db_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        status, body, headers = unexpected_parts()
        return jsonify(body), status, headers
