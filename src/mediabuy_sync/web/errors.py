"""The one error envelope: {"data": null, "error": {"code", "message", "details"}}."""

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
    """Raise to answer with the error envelope."""

    def __init__(self, status: int, code: str, message: str, details: object = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details: object = None, headers: dict | None = None):
    body = {"data": None, "error": {"code": code, "message": message, "details": details}}
    return jsonify(body), status, headers or {}


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = _HTTP_CODES.get(exc.code or 500, "HTTP_ERROR")
        headers = dict(exc.get_headers())
        headers.pop("Content-Type", None)
        return error_response(exc.code or 500, code, exc.description or exc.name, None, headers)

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
