"""web: the buyer's actions on a campaign (/api/v2/buyer) — execute, update (PUT), pause, reactivate, and
an advertiser's frequency caps.

Each checks and applies its local changes in one transaction (services/campaigns/), then starts the
cascades that carry it to the agents — one worker job per sales agent, in parallel — and waits for
them up to MEDIABUY_ACTION_DEADLINE_SECONDS. What is still pending then carries on; the campaign's
GET shows its cascades.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..config import settings
from ..domain import plans
from ..domain.cascades import ItemState
from ..queue.publisher import publisher
from ..services import campaigns as actions
from ..services.campaigns import Rejected
from ..store import cascades
from ..store.db import transaction
from .auth import buyer_blueprint, current_advertiser
from .errors import ApiError, validation_error
from .schemas import (
    MAX_BID, BudgetChange, CascadeSummary, Creative, FlightDates, FrequencyCap, Money, OptimizationGoal,
    ProductSelection, Strict, Text,
)

bp = buyer_blueprint("buyer_actions", __name__,
                     description="Campaign actions: execute, update, pause, reactivate; an advertiser's frequency caps.")

ACTIONS = ("update", "cancel", "delete")


# --- requests ----------------------------------------------------------------------------------------


class ExecuteRequest(Strict):
    debug = fields.Boolean(load_default=False, metadata={
        "description": "Include, for each failed media buy, the ADCP request sent, what came back, and log lines."})


class PackageChange(Strict):
    packageId = Text(128, required=True)
    budget = Money()
    pacing = fields.String(validate=validate.OneOf(plans.PACKAGE_PACING))
    bidPrice = Money(places=4, maximum=MAX_BID)


class MediaBuyChange(Strict):
    action = fields.String(load_default="update", validate=validate.OneOf(ACTIONS),
                           metadata={"description": "update (default), cancel (at the agent) or delete (archive; a live buy is canceled at its agent first, then archived)."})
    mediaBuyId = Text(128, required=True)
    packages = fields.List(fields.Nested(PackageChange), validate=validate.Length(max=200),
                           metadata={"description": "update only: package budget, pacing, bid price."})
    packageIds = fields.List(Text(128), validate=validate.Length(min=1, max=200),
                             metadata={"description": "cancel only: cancel just these packages."})
    reason = Text(500, metadata={"description": "cancel only."})
    creative_ids = fields.List(Text(), validate=validate.Length(max=500), metadata={
        "description": "update only. Replaces the manifest's auto-sync for this buy; [] clears its creatives. Each "
                       "must be in the campaign's manifest and of a format the buy's products accept."})
    optimization_goals = fields.List(fields.Nested(OptimizationGoal), validate=validate.Length(max=20),
                                     metadata={"description": "update only: replaces the buy's goals, sent to its agent on "
                                                               "every package. Confirm a change with the buyer first; "
                                                               "dryRun: true shows the goals before and after."})
    confirmOptimizationGoalsChange = fields.Boolean(metadata={
        "deprecated": True,
        "description": "Deprecated and ignored: a goals change needs no confirmation field (use dryRun: true to "
                       "see the change first). Still accepted so older callers are not refused."})
    updated_reason = Text(500)


class UpdateCampaign(Strict):
    """PUT /campaigns/:id — each field given replaces the stored one; mediaBuys[] acts on media buys."""

    name = Text()
    budget = fields.Nested(BudgetChange, metadata={
        "description": "Changes only what it names (currency, dailyCap, pacing kept when omitted). Lowering total below the live package budgets scales them down proportionally, unless "
                       "mediaBuys[].packages[].budget names them."})
    frequencyCaps = fields.List(fields.Nested(FrequencyCap), validate=validate.Length(max=20),
                                metadata={"description": "Replaces every cap; carried to every live media buy."})
    creatives = fields.List(fields.Nested(Creative), validate=validate.Length(max=500), metadata={
        "description": "The creative manifest, replaced; re-synced to every media buy whose products accept a "
                       "changed creative's format (not to buys with a creative_ids override)."})
    propertyList = fields.Dict(keys=fields.String(), allow_none=True, metadata={
        "description": "Carried to the packages of every live media buy (no re-execute)."})
    mediaBuys = fields.List(fields.Nested(MediaBuyChange), validate=validate.Length(max=100))
    flightDates = fields.Nested(FlightDates, metadata={
        "description": "A DRAFT: any flight. ACTIVE or PAUSED: only extended (a later end; the start unchanged), "
                       "carried to every live media buy (update_media_buy end_time); shorter or moved: 422."})
    products = fields.List(fields.Nested(ProductSelection), validate=validate.Length(min=1, max=100), metadata={
        "description": "The whole selection. A DRAFT: replaced. ACTIVE or PAUSED: the products bought stay as they "
                       "are (their packages change through mediaBuys[]); products of sales agents the campaign "
                       "has no media buy with may be added: the next execute makes and submits their buys."})
    dryRun = fields.Boolean(metadata={
        "description": "true: every rule checked and the plan answered (budget, each buy's status, goals and "
                       "package budgets before and after, the request each agent would receive) — nothing is "
                       "changed and nothing is sent."})

    @validates_schema(skip_on_field_errors=False)
    def _something_and_no_repeats(self, data, **kwargs):
        if not {k for k in data if k != "dryRun"}:
            raise ValidationError("Name at least one field to change.")
        errors = {}
        for c in plans.repeated(x.get("creativeId") for x in data.get("creatives") or ()):
            errors[f"creatives.{c}.creativeId"] = ["This creative is in the manifest twice."]
        keys = [(p["salesAgentId"], p["productId"]) if isinstance(p, dict) and "salesAgentId" in p
                and "productId" in p else None for p in data.get("products") or ()]
        for p in plans.repeated(keys):
            errors[f"products.{p}.productId"] = ["This product of this sales agent is selected twice."]
        if errors:
            raise ValidationError(errors)


class AdvertiserFrequencyCaps(Strict):
    frequencyCaps = fields.List(fields.Nested(FrequencyCap), required=True, validate=validate.Length(max=20))


# --- answers ----------------------------------------------------------------------------------------------


class ExecuteDebug(Schema):
    request = fields.Raw(metadata={"description": "The ADCP request sent (webhook secrets are references, not values)."})
    response = fields.Raw(allow_none=True, metadata={"description": "The agent's answer, or the error received."})
    debugLogs = fields.List(fields.String())


class ExecuteError(Schema):
    mediaBuyId = fields.String(required=True)
    salesAgentId = fields.String(required=True)
    message = fields.String(required=True)
    debug = fields.Nested(ExecuteDebug)


class ExecuteAnswer(Schema):
    campaignId = fields.String(required=True)
    success = fields.Boolean(required=True, metadata={"description": "Every media buy submitted was accepted."})
    previousStatus = fields.String(required=True)
    newStatus = fields.String(required=True)
    errors = fields.List(fields.Nested(ExecuteError))
    pending = fields.List(fields.String(), metadata={
        "description": "Media buys whose agent had not answered by the deadline; the submission carries on."})
    cascade = fields.Nested(CascadeSummary, allow_none=True)


class MediaBuyResult(Schema):
    mediaBuyId = fields.String(required=True)
    salesAgentId = fields.String()
    previousStatus = fields.String(required=True)
    status = fields.String(metadata={"description": "The media buy's status now."})
    success = fields.Boolean(required=True)
    pending = fields.Boolean(metadata={"description": "Its agent had not answered by the deadline."})
    error = fields.String()


class CascadeAnswer(Schema):
    campaignId = fields.String(required=True)
    previousStatus = fields.String(required=True)
    newStatus = fields.String(required=True)
    totalMediaBuys = fields.Integer(required=True)
    successCount = fields.Integer(required=True)
    failureCount = fields.Integer(required=True)
    pendingCount = fields.Integer(required=True)
    mediaBuyResults = fields.List(fields.Nested(MediaBuyResult), required=True)
    cascade = fields.Nested(CascadeSummary, allow_none=True)


class UpdatePlan(Schema):
    budget = fields.Dict(metadata={"description": "{before, after}: {total, currency, dailyCap, pacing}."})
    mediaBuys = fields.List(fields.Dict(), metadata={
        "description": "Each buy named or changed: {mediaBuyId, salesAgentId, action, status {before, after}, "
                       "optimizationGoals {before, after, changed}, packages [{packageId, productId, budget, "
                       "pacing, status — each {before, after}}] (changed ones)}. A delete of a live buy shows "
                       "the cancel its agent would get; the archive follows the agent's acceptance."})
    cascades = fields.List(fields.Dict(), metadata={
        "description": "{kind, requests: [{mediaBuyId, salesAgentId, task, request}]}: what each agent would receive."})


class UpdateAnswer(Schema):
    campaignId = fields.String(required=True)
    status = fields.String(required=True)
    success = fields.Boolean(required=True, metadata={"description": "Every change reached its agent."})
    mediaBuyResults = fields.List(fields.Nested(MediaBuyResult), required=True)
    cascades = fields.List(fields.Nested(CascadeSummary), required=True)
    dryRun = fields.Boolean(metadata={"description": "true: a dry run — nothing changed, nothing sent."})
    plan = fields.Nested(UpdatePlan, metadata={"description": "A dry run's plan."})


class CampaignCascade(Schema):
    campaignId = fields.String(required=True)
    cascade = fields.Nested(CascadeSummary, required=True)


class AdvertiserCapsAnswer(Schema):
    advertiserId = fields.String(required=True)
    frequencyCaps = fields.List(fields.Nested(FrequencyCap), required=True)
    success = fields.Boolean(required=True)
    campaigns = fields.List(fields.Nested(CampaignCascade), required=True)
    mediaBuyResults = fields.List(fields.Nested(MediaBuyResult), required=True)


# --- endpoints ------------------------------------------------------------------------------------------


@bp.route("/campaigns/<id:campaign_id>/execute", methods=["POST"])
@bp.arguments(ExecuteRequest)
@bp.response(200, ExecuteAnswer)
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(422, "VALIDATION_ERROR")
def execute(body: dict, campaign_id: str):
    """Execute a campaign

    The first execute makes one media buy per sales agent and one package per selected product per
    pacing period; every DRAFT (and FAILED) media buy is then submitted with create_media_buy, all
    agents at once. Executing again retries the failed buys, resubmits the rejected ones and buys
    the products of sales agents added since (PUT products). Allowed from DRAFT, ACTIVE and PAUSED,
    until the flight's end (422 after it); a DRAFT campaign becomes ACTIVE even when some agents fail
    (see errors[]).
    """
    started = _act(actions.execute, campaign_id)
    found = _run(started.cascade_ids)
    cascade = found[0] if found else None
    errors, pending = list(started.not_sent), []  # not sent: e.g. no account at a seller that assigns them
    for item in cascade["items"] if cascade else ():
        if item["state"] == ItemState.PENDING:
            pending.append(item["media_buy_id"])
        elif item["state"] == ItemState.FAILED:
            error = {"mediaBuyId": item["media_buy_id"], "salesAgentId": item["sales_agent_id"],
                     "message": actions.error_message(item["error"])}
            if body["debug"]:
                error["debug"] = {"request": item["request"], "response": item["error"],
                                  "debugLogs": (item["result"] or {}).get("log", [])}
            errors.append(error)
    answer = {"campaignId": campaign_id, "success": not errors and not pending,
              "previousStatus": started.previous_status, "newStatus": started.new_status,
              "cascade": _summary(cascade) if cascade else None}
    if errors:
        answer["errors"] = errors
    if pending:
        answer["pending"] = pending
    return answer


@bp.route("/campaigns/<id:campaign_id>", methods=["PUT"])
@bp.arguments(UpdateCampaign)
@bp.response(200, UpdateAnswer)
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(409, "INSUFFICIENT_MEDIA_BUDGET")
@bp.alt_response(422, "VALIDATION_ERROR")
def update_campaign(body: dict, campaign_id: str):
    """Update a campaign

    Partial: name, budget, frequencyCaps, creatives (the manifest), propertyList, flightDates and
    products (a DRAFT's freely; a live campaign's flight only extended, carried to its buys, and
    products only added for sales agents it has no buy with — the next execute buys them), and
    mediaBuys[] (update — packages, creative_ids, optimization_goals —, cancel, or delete). Every rule is checked
    first: one answer names every bad entry and nothing changes. Then the local changes are made at
    once and each media buy's change is carried to its agent; mediaBuyResults says how each went.
    An update to an ACTIVE media buy leaves it ACTIVE until its agent answers. With dryRun: true,
    the same checks and the plan of what would happen, with nothing changed or sent.
    """
    if body.pop("dryRun", False):
        try:
            _act(actions.dry_run, campaign_id, body)
        except actions.DryRun as done:  # raised inside the transaction: it rolled back
            return {"campaignId": campaign_id, "status": done.plan.pop("campaignStatus"), "success": True,
                    "dryRun": True, "mediaBuyResults": [], "cascades": [], "plan": done.plan}
        raise AssertionError("a dry run always ends in DryRun")  # pragma: no cover
    started = _act(actions.update, campaign_id, body)
    found = _run(started.cascade_ids)
    results = list(actions.item_results(found).values()) + started.local_results
    return {"campaignId": campaign_id, "status": started.new_status,
            "success": all(r["success"] for r in results), "mediaBuyResults": sorted(results, key=_by_buy),
            "cascades": [_summary(c) for c in found]}


@bp.route("/campaigns/<id:campaign_id>/pause", methods=["POST"])
@bp.response(200, CascadeAnswer)
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(422, "VALIDATION_ERROR")
def pause(campaign_id: str):
    """Pause a campaign

    From ACTIVE: every media buy its agents hold, and each of their packages, is paused at its
    agent (update_media_buy paused: true), all agents at once. The campaign is PAUSED even when
    some agents fail (see mediaBuyResults).
    """
    return _cascade_answer(_act(actions.pause, campaign_id))


@bp.route("/campaigns/<id:campaign_id>/reactivate", methods=["POST"])
@bp.response(200, CascadeAnswer)
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(422, "VALIDATION_ERROR")
def reactivate(campaign_id: str):
    """Reactivate a paused campaign

    The campaign must be PAUSED and its flight not over (422 naming its end: extend flightDates
    first): its paused (and still pending) media buys and their packages are resumed at their
    agents. The campaign is ACTIVE even when some agents fail.
    """
    return _cascade_answer(_act(actions.reactivate, campaign_id))


@bp.route("/advertisers/<id:advertiser_id>/frequency-caps", methods=["PUT"])
@bp.arguments(AdvertiserFrequencyCaps)
@bp.response(200, AdvertiserCapsAnswer)
@bp.alt_response(403, "FORBIDDEN")
@bp.alt_response(422, "VALIDATION_ERROR")
def set_advertiser_caps(body: dict, advertiser_id: str):
    """Set an advertiser's frequency caps

    Replaces them all; enforced across every media buy of the advertiser: each live one gets the
    caps (merged with its campaign's, the lowest per period) with update_media_buy.
    """
    if advertiser_id != current_advertiser():
        raise ApiError(403, "FORBIDDEN", "This API key cannot change another advertiser's frequency caps.")
    with transaction() as conn:
        started = actions.set_advertiser_caps(conn, advertiser_id, body["frequencyCaps"])
    found = _run([cascade_id for _, cascade_id in started])
    results = sorted(actions.item_results(found).values(), key=_by_buy)
    return {"advertiserId": advertiser_id, "frequencyCaps": body["frequencyCaps"],
            "success": all(r["success"] for r in results),
            "campaigns": [{"campaignId": campaign_id, "cascade": _summary(cascade)}
                          for (campaign_id, _), cascade in zip(started, found)],
            "mediaBuyResults": results}


# --- helpers ---------------------------------------------------------------------------------------------


def _act(action, campaign_id: str, *args) -> actions.Started:
    """Run the action in one transaction; a rejection is the error envelope and changes nothing."""
    try:
        with transaction() as conn:
            return action(conn, campaign_id, current_advertiser(), *args)
    except Rejected as exc:
        if exc.fields is not None and exc.code == "VALIDATION_ERROR":
            error = validation_error({"json": exc.fields}, exc.status)
            error.message = exc.message
            if exc.details:
                error.details = {**error.details, **exc.details}
            raise error from None
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from None


def _run(cascade_ids: list[int]) -> list[dict]:
    """Start the cascades and wait for them until the deadline."""
    if not cascade_ids:
        return []
    enqueued = actions.start(cascade_ids, publisher)
    return actions.wait(cascade_ids, settings().action_deadline_seconds if enqueued else 0)


def _cascade_answer(started: actions.Started) -> dict:
    found = _run(started.cascade_ids)
    results = sorted(actions.item_results(found).values(), key=_by_buy)
    return {
        "campaignId": started.campaign_id, "previousStatus": started.previous_status, "newStatus": started.new_status,
        "totalMediaBuys": len(results), "successCount": sum(r["success"] for r in results),
        "failureCount": sum(not r["success"] and not r["pending"] for r in results),
        "pendingCount": sum(r["pending"] for r in results),
        "mediaBuyResults": results, "cascade": _summary(found[0]) if found else None,
    }


def _summary(cascade: dict) -> dict:
    s = cascades.summary(cascade)
    return {"cascadeId": s["id"], "kind": s["kind"], "state": s["state"], "total": s["total"],
            "succeeded": s["succeeded"], "failed": s["failed"], "pending": s["pending"],
            "createdAt": s["created_at"], "finishedAt": s["finished_at"]}


def _by_buy(result: dict) -> str:
    return result["mediaBuyId"]
