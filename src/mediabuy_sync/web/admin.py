"""web: the admin endpoints (/admin, Bearer MEDIABUY_ADMIN_TOKEN) — re-sync, sync runs, dead events, replay."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..domain.sync_runs import SyncRunKind, SyncRunSource, SyncRunState
from ..queue.publisher import publisher
from ..services import inbox, resync
from ..store import sync_runs
from .auth import admin_blueprint
from .errors import ApiError
from .schemas import Count, Strict

bp = admin_blueprint("admin", __name__, description="Re-sync media buys, campaigns or agents; dead webhook events.")

RESYNC_KINDS = {"media-buys": SyncRunKind.MEDIA_BUY, "campaigns": SyncRunKind.CAMPAIGN, "agents": SyncRunKind.AGENT}


class ResyncStarted(Schema):
    run_id = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "Media buys the run polls."})


class SyncRun(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    target_id = fields.String(required=True)
    source = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": [state.value for state in SyncRunState]})
    total = fields.Integer(required=True)
    done = fields.Integer(required=True)
    result = fields.Raw(allow_none=True)
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)


class DeadEventsQuery(Strict):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeadEvent(Schema):
    id = fields.Integer(required=True)
    agent_id = fields.String(required=True)
    idempotency_key = fields.String(required=True)
    task_type = fields.String(required=True)
    received_at = fields.DateTime(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)


class ReplayRequest(Strict):
    event_ids = fields.List(Count(validate=validate.Range(min=1, max=2**63 - 1)), required=True,
                            validate=validate.Length(min=1, max=1000))


class ReplayAnswer(Schema):
    replayed = fields.List(fields.Integer(), required=True)
    not_dead = fields.List(fields.Integer(), required=True, metadata={"description": "Ids that were not dead."})


@bp.route("/resync/<any(\"media-buys\", campaigns, agents):kind>/<id:target_id>", methods=["POST"])
@bp.response(202, ResyncStarted)
def resync_target(kind: str, target_id: str):
    """Re-sync a media buy, a campaign or an agent

    Polls its non-terminal media buys through a worker; follow the run at /admin/sync-runs/{run_id}.
    """
    run_id = resync.request(RESYNC_KINDS[kind], target_id, SyncRunSource.ADMIN, publisher)
    return {"run_id": run_id, "total": sync_runs.get(run_id)["total"]}


@bp.route("/sync-runs/<int:run_id>", methods=["GET"])
@bp.response(200, SyncRun)
@bp.alt_response(404, "NOT_FOUND")
def get_run(run_id: int):
    """A re-sync run: its progress, and its result once done"""
    run = sync_runs.get(run_id)
    if run is None:
        raise ApiError(404, "NOT_FOUND", f"No sync run {run_id}.")
    return run


@bp.route("/events/dead", methods=["GET"])
@bp.arguments(DeadEventsQuery, location="query")
@bp.response(200, DeadEvent(many=True))
def dead_events(query: dict):
    """Webhook events that failed every attempt, oldest first"""
    return inbox.dead(query["limit"])


@bp.route("/events/replay", methods=["POST"])
@bp.arguments(ReplayRequest)
@bp.response(200, ReplayAnswer)
def replay_events(body: dict):
    """Process dead events again"""
    ids = body["event_ids"]
    replayed = inbox.replay(ids, publisher)
    return {"replayed": replayed, "not_dead": sorted(set(ids) - set(replayed))}
