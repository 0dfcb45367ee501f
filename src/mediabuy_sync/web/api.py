"""web: the HTTP surface as one flask-smorest Api — one OpenAPI document, one error envelope.

A module that serves endpoints makes an `ApiBlueprint` (answers wrapped in {"data", "error": null})
or a plain `flask_smorest.Blueprint` (its own answer shapes: ops, docs), and create_app registers it.
"""

from __future__ import annotations

import json
from http import HTTPStatus

import flask_smorest
from apispec import BasePlugin
from flask import Request
from flask_smorest.utils import prepare_response
from marshmallow import RAISE, Schema, ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.routing import BaseConverter

from .errors import ApiError, http_error, validation_error
from .schemas import ID_PATTERN, ErrorEnvelope, envelope_of

BUYER_SECURITY = [{"buyerApiKey": []}]
ADMIN_SECURITY = [{"adminToken": []}]
SECURITY_SCHEMES = {
    "buyerApiKey": {"type": "http", "scheme": "bearer",
                    "description": "A buyer API key (`mediabuy-sync apikeys create`); it sees one advertiser."},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "MEDIABUY_ADMIN_TOKEN."},
}


class IdConverter(BaseConverter):
    """`<id:name>`: the characters our ids and agents' ids are made of. Anything else (a NUL byte, a
    slash, `..`) is not a route at all: 404 before it reaches a query."""

    regex = ID_PATTERN


def _id_param_schema(converter) -> dict:
    return {"type": "string", "pattern": f"^{ID_PATTERN}$"}


class RequestParser(FlaskParser):
    """webargs, with our rules: JSON bodies only, unknown query parameters rejected too, and every
    failure answered in the envelope (400 for a body that is not JSON, 422 for one that is not valid)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}
    DEFAULT_VALIDATION_STATUS = 422

    def _raw_load_json(self, req: Request):
        body = req.get_data(cache=True)
        if not body:
            return core.missing  # then each required field says it is missing
        if not req.is_json:
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.")
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ApiError(400, "BAD_REQUEST", "The body is not valid JSON.", {"reason": str(exc)}) from None

    def pre_load(self, location_data, *, schema, req, location):
        unstorable = dict(_unstorable_strings(location_data)) if location in ("json", "querystring", "query") else {}
        if unstorable:
            raise ValidationError(unstorable)
        return location_data

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        raise validation_error(error.messages, error_status_code or self.DEFAULT_VALIDATION_STATUS)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return number


def _unstorable_strings(value, path: str = ""):
    """(path, message) for each key or string PostgreSQL cannot store: a NUL character, or a lone
    surrogate (it has no UTF-8). Checked once here rather than in every schema."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "body", ["NUL characters are not allowed."]
        else:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                yield path or "body", ["Not valid Unicode (a lone surrogate)."]
    elif isinstance(value, dict) or hasattr(value, "items"):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            yield from _unstorable_strings(key, sub)
            yield from _unstorable_strings(item, sub)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_strings(item, f"{path}.{index}" if path else str(index))


# The shared responses every operation with a JSON body may answer (names of #/components/responses).
_BODY_ERRORS = {400: "BAD_REQUEST", 413: "REQUEST_ENTITY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


class ApiBlueprint(flask_smorest.Blueprint):
    """A blueprint whose answers are {"data": <dumped>, "error": null}, documented as such.

    `security` (BUYER_SECURITY, ADMIN_SECURITY) documents the blueprint's authentication on each of
    its operations, with the 401 (and 403) it answers; the authentication itself is a before_request
    (see auth.py).
    """

    ARGUMENTS_PARSER = RequestParser()

    def __init__(self, *args, security: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.security = security
        self._prepare_doc_cbks.append(self._prepare_common_doc)

    @staticmethod
    def _prepare_response_content(data):
        return {"data": data, "error": None}

    @staticmethod
    def _make_doc_response_schema(schema):
        if schema is None or not isinstance(schema, Schema) or isinstance(schema, ErrorEnvelope):
            return schema
        return envelope_of(type(schema), many=bool(schema.many))

    def _prepare_common_doc(self, doc, doc_info, **kwargs):
        responses = doc.setdefault("responses", {})
        if self.security:
            doc["security"] = self.security
            responses.setdefault(401, "UNAUTHORIZED")
            if self.security == ADMIN_SECURITY:
                responses.setdefault(403, "FORBIDDEN")
        if "requestBody" in doc:
            for status, name in _BODY_ERRORS.items():
                responses.setdefault(status, name)
        responses.setdefault(503, "SERVICE_UNAVAILABLE")
        doc["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))
        return doc



# What our answers with these statuses mean (error.code first), for the document's shared responses.
ERROR_DESCRIPTIONS = {
    400: "BAD_REQUEST: the body is not JSON.",
    401: "UNAUTHORIZED: no valid credentials (WWW-Authenticate).",
    403: "FORBIDDEN: these credentials may not do this.",
    404: "NOT_FOUND: not there, or not yours.",
    409: "CONFLICT: the request contradicts what is stored.",
    413: "PAYLOAD_TOO_LARGE: the body is over the limit.",
    415: "UNSUPPORTED_MEDIA_TYPE: send application/json.",
    422: "VALIDATION_ERROR: the body or query breaks the schema; error.field is the first bad field, "
         "details.fields names every one ({dotted path: [messages]}).",
    429: "RATE_LIMITED: too soon; Retry-After says when.",
    503: "SERVICE_UNAVAILABLE: PostgreSQL or the workers cannot be reached; nothing was changed. Retry-After.",
    504: "GATEWAY_TIMEOUT: the agents did not all answer in time.",
}


# Our error codes that are not already the HTTP status's name, and their status.
ERROR_CODES = {
    "VALIDATION_ERROR": 422, "INSUFFICIENT_MEDIA_BUDGET": 409, "PAYLOAD_TOO_LARGE": 413, "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "The scheme, and why (RFC 6750 / RFC 9421 error).", "required": True,
                               "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}

CODE_DESCRIPTIONS = {
    "INSUFFICIENT_MEDIA_BUDGET": "INSUFFICIENT_MEDIA_BUDGET: the products' (or packages') budgets would exceed "
                                 "the campaign's.",
    "INTERNAL_ERROR": "INTERNAL_ERROR: an unexpected error; it is logged.",
}


class PathNotFoundPlugin(BasePlugin):
    """A path parameter the route's converter refuses (`<id:…>`, `<int:…>`) matches no route: 404.
    Documented on every operation that has one, whichever module serves it."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        if "{" not in (path or ""):
            return
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            if 404 not in responses and "404" not in responses:
                responses[404] = "NOT_FOUND"


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorEnvelope
    # No catch-all "default" response: each operation documents the statuses it answers, so a test
    # can hold the server to them.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error):
        return http_error(error)

    def _register_responses(self):
        """The shared error responses, in our envelope and words: by HTTP name (NOT_FOUND,
        UNPROCESSABLE_ENTITY, which flask-smorest refers to) and by our error code
        (`@bp.alt_response(409, "INSUFFICIENT_MEDIA_BUDGET")`). Only those referred to are in the document."""
        names = {status.name: (status, status.phrase) for status in HTTPStatus if status >= 400}
        names.update({code: (status, code) for code, status in ERROR_CODES.items()})
        for name, (status, fallback) in names.items():
            description = CODE_DESCRIPTIONS.get(name) or ERROR_DESCRIPTIONS.get(status, fallback)
            response = {"description": description, "schema": self.ERROR_SCHEMA}
            if status in ERROR_HEADERS:
                response["headers"] = ERROR_HEADERS[status]
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(name, response, lazy=True)


def make_api(app) -> Api:
    app.config.update(
        API_TITLE="mediabuy-sync",
        API_VERSION="2",
        OPENAPI_VERSION="3.1.0",
        # docs.py serves the document and the docs page itself (and documents them)
        OPENAPI_URL_PREFIX=None,
        API_SPEC_OPTIONS={
            "info": {"description": "The buyer API (/api/v2/buyer), the ADCP webhook, admin and ops endpoints. "
                                    "Every answer of the buyer, webhook and admin endpoints is "
                                    '{"data": …, "error": null} or {"data": null, "error": {code, message, '
                                    "field?, details}}: 400 BAD_REQUEST for a body that is not JSON, 422 "
                                    "VALIDATION_ERROR for a JSON body or query that breaks the schema (details."
                                    "fields names every bad field; the webhook says 400, as it always has), "
                                    "401 without a valid key, 404 for what is not yours or not there."},
        },
    )
    app.url_map.converters["id"] = IdConverter
    api = Api(app, spec_kwargs={"extra_plugins": [PathNotFoundPlugin()]})
    api.register_converter(IdConverter, _id_param_schema)
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    return api
