"""Liveness and readiness."""

from __future__ import annotations

from functools import cache

import redis
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..config import settings
from ..store.db import transaction

# Not the envelope: load balancers and orchestrators read these.
bp = Blueprint("ops", __name__, description="Liveness and readiness.")


class Health(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok"]})


class Readiness(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "unavailable"]})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"description": '{"postgres": "ok" | "unavailable: …", "redis": …}'})


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings().redis_url, socket_timeout=1, socket_connect_timeout=1)


@bp.route("/healthz", methods=["GET"])
@bp.response(200, Health)
def healthz():
    """The process is up"""
    return {"status": "ok"}


@bp.route("/readyz", methods=["GET"])
@bp.response(200, Readiness)
@bp.alt_response(503, schema=Readiness, description="PostgreSQL or Redis does not answer.")
def readyz():
    """PostgreSQL and Redis answer"""
    checks = {}
    try:
        with transaction() as conn:
            conn.execute("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, it doesn't fail
        checks["postgres"] = f"unavailable: {type(exc).__name__}"
    try:
        _redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
