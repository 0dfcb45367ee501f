"""Admin endpoints (/admin, Bearer MEDIABUY_ADMIN_TOKEN): re-sync, sync runs, dead events, replay."""

from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint, jsonify, request

from .. import resync
from ..config import settings
from ..store import inbox, sync_runs
from ..store.db import transaction
from ..worker.app import INGEST
from .errors import ApiError
from .publisher import publisher

bp = Blueprint("admin", __name__, url_prefix="/admin")

RESYNC_KINDS = {"media-buys": "media_buy", "campaigns": "campaign", "agents": "agent"}


@bp.before_request
def _authenticate():
    token = settings().admin_token
    if not token:
        raise ApiError(403, "FORBIDDEN", "The admin endpoints are disabled: MEDIABUY_ADMIN_TOKEN is not set.")
    scheme, _, presented = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "UNAUTHORIZED", "Send the admin token as Authorization: Bearer <token>.",
                       headers={"WWW-Authenticate": "Bearer"})
    # compare digests: constant time whatever the lengths
    if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), hashlib.sha256(token.encode()).digest()):
        raise ApiError(401, "UNAUTHORIZED", "The admin token is not valid.",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


@bp.post("/resync/<kind>/<target_id>")
def resync_target(kind: str, target_id: str):
    if kind not in RESYNC_KINDS:
        raise ApiError(404, "NOT_FOUND", f"Re-sync applies to {', '.join(RESYNC_KINDS)}.")
    run_id = resync.request(RESYNC_KINDS[kind], target_id, "admin", publisher)
    run = sync_runs.get(run_id)
    if run["total"] == 0:
        sync_runs.finish(run_id, "done", {"agents_queried": 0, "media_buys": [], "errors": [], "updated": 0})
    return jsonify({"data": {"run_id": run_id, "total": run["total"]}, "error": None}), 202


@bp.get("/sync-runs/<int:run_id>")
def get_run(run_id: int):
    run = sync_runs.get(run_id)
    if run is None:
        raise ApiError(404, "NOT_FOUND", f"No sync run {run_id}.")
    return jsonify({"data": {**run, "created_at": run["created_at"].isoformat(),
                             "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None},
                    "error": None})


@bp.get("/events/dead")
def dead_events():
    limit = min(int(request.args.get("limit", 100)), 1000) if request.args.get("limit", "100").isdigit() else 100
    with transaction() as conn:
        rows = inbox.list_dead(conn, limit)
    return jsonify({"data": [{**r, "received_at": r["received_at"].isoformat()} for r in rows], "error": None})


@bp.post("/events/replay")
def replay_events():
    body = request.get_json(silent=True)
    ids = body.get("event_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids):
        raise ApiError(400, "VALIDATION_ERROR", "Send {\"event_ids\": [<int>, …]}.", {"fields": {"event_ids": ["A non-empty list of integers."]}})
    with transaction() as conn:
        replayed = inbox.replay_dead(conn, ids)
    for event_id in replayed:
        publisher.send_task(INGEST, args=[event_id])
    return jsonify({"data": {"replayed": replayed, "not_dead": sorted(set(ids) - set(replayed))}, "error": None})
