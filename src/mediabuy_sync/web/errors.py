"""The one error envelope: {"data": null, "error": {"code", "message", "field"?, "details"}}."""

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


def error_response(status: int, code: str, message: str, details: object = None, headers: dict | None = None,
                   field: str | None = None):
    error: dict = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error["details"] = details
    return jsonify({"data": None, "error": error}), status, headers or {}


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
    code = _HTTP_CODES.get(exc.code or 500, "HTTP_ERROR")
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    return error_response(exc.code or 500, code, exc.description or exc.name, None, headers)


def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers, exc.field)


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, http_error)

    def _db_unavailable(exc: Exception):
        log.warning("PostgreSQL unavailable: %s", exc)
        retry_after = settings().retry_after_seconds
        return error_response(
            503, "SERVICE_UNAVAILABLE", "The database is unavailable; nothing was stored. Retry later.",
            None, {"Retry-After": str(retry_after)},
        )

    for exc_type in Unavailable:
        app.register_error_handler(exc_type, _db_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred.")
