"""Liveness and readiness."""

from __future__ import annotations

from functools import cache

import redis
from flask import Blueprint, jsonify

from ..config import settings
from ..store.db import transaction

bp = Blueprint("ops", __name__)


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings().redis_url, socket_timeout=1, socket_connect_timeout=1)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
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
    return jsonify({"status": "ready" if ready else "unavailable", "checks": checks}), 200 if ready else 503
