"""web: /ops, server-rendered pages for the people who run the service (admin token).

Campaigns with their surfaced status and blockers (50 a page, blocked first, filtered by a GET form;
the cursors and filters in web/dashboard_paging.py); one campaign's media buys, packages, delivery and
status timeline; the agents' webhook freshness, signature failures and polling; dead events with a
replay button; and two small charts (webhooks per minute per agent, inbox lag over the last hour).

A browser cannot send an Authorization header when it follows a link, so the admin token is also
taken once by a login form, which sets a session cookie (HttpOnly, SameSite=Strict, path /ops, Secure
whenever the public base URL is https): a random session id and its HMAC under the admin token. The
session lives in PostgreSQL (store/ops_sessions.py): logout ends it for good (a copied cookie is
refused after), `mediabuy-sync ops end-sessions` ends them all, and changing the token ends every
session too. Forms that change something carry a CSRF token derived from that cookie. Scripts may send
`Authorization: Bearer <admin token>` instead. No JavaScript, nothing loaded from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timezone

import flask_smorest
from flask import current_app, g, redirect, render_template, request
from marshmallow import Schema, fields, validate

from .. import metrics
from ..config import settings
from ..domain.retention import PARTITIONED, keep_days
from ..domain.statuses import Status
from ..queue.publisher import publisher
from ..services import inbox
from ..store import ops, ops_lists, ops_sessions
from ..store.db import transaction
from . import dashboard_chart, dashboard_paging
from .api import RequestParser
from .dashboard_paging import PAGE_SIZE, CampaignsQuery, DeadEventsQuery
from .errors import ApiError

log = logging.getLogger(__name__)
COOKIE = "mediabuy_ops"
SESSION_SECONDS = 12 * 3600
STATEMENT_TIMEOUT_MS = 5000
HTML = {"type": "string"}


class PageBlueprint(flask_smorest.Blueprint):
    """HTML pages, documented in /openapi.json like every route; form errors in the JSON envelope."""

    ARGUMENTS_PARSER = RequestParser()


bp = PageBlueprint("dashboard", __name__, url_prefix="/ops", template_folder="dashboard_templates",
                   description="The operators' pages (HTML; admin token by login form or Bearer).")


def _page_doc(func):
    """What every page may answer: itself, the login page (303) without a session, the errors."""
    func = bp.alt_response(303, description="No session: to /ops/login.")(func)
    func = bp.alt_response(403, "FORBIDDEN")(func)
    return bp.alt_response(503, "SERVICE_UNAVAILABLE")(func)


class LoginForm(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=1024),
                          metadata={"description": "MEDIABUY_ADMIN_TOKEN"})


class ReplayForm(Schema):
    csrf = fields.String(required=True, validate=validate.Length(min=1, max=256))
    event_id = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**63 - 1)), required=True,
                           validate=validate.Length(min=1, max=1000))


# --- the session ---------------------------------------------------------------------------------


def _token() -> str:
    token = settings().admin_token
    if not token:
        raise ApiError(403, "FORBIDDEN", "The ops pages are disabled: MEDIABUY_ADMIN_TOKEN is not set.")
    return token


def _sign(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def _session_cookie(token: str) -> str:
    with transaction() as conn:
        session_id = ops_sessions.open_session(conn, SESSION_SECONDS)
    return f"{session_id}.{_sign(token, 'session:' + session_id)}"


def _cookie_session(token: str) -> str | None:
    """The id of the request's session cookie if its HMAC holds (not yet whether it is live)."""
    session_id, _, mac = (request.cookies.get(COOKIE) or "").partition(".")
    if not session_id or len(session_id) > 64 or not _same(mac, _sign(token, "session:" + session_id)):
        return None
    return session_id


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(a.encode()).digest(), hashlib.sha256(b.encode()).digest())


def _authenticated(token: str) -> bool:
    scheme, _, presented = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and presented.strip():
        return _same(presented.strip(), token)
    session_id = _cookie_session(token)
    if session_id is None:  # a forged or garbled cookie costs no round trip
        return False
    with transaction() as conn:
        return ops_sessions.live(conn, session_id)


def _csrf(token: str) -> str:
    return _sign(token, "csrf:" + (request.cookies.get(COOKIE) or request.headers.get("Authorization") or ""))


def _session():
    """None when the request may see the pages, else the redirect to the login form."""
    token = _token()
    if not _authenticated(token):
        return redirect("/ops/login", 303)
    g.csrf = _csrf(token)
    return None


def _render(template: str, **values):
    html = render_template(f"ops/{template}", csrf=g.get("csrf", ""), now=datetime.now(timezone.utc), **values)
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # nothing from elsewhere, no scripts at all; inline styles only
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
    return response


# --- pages ---------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET"])
@bp.response(200, HTML, content_type="text/html")
def login_page():
    """The ops login form"""
    _token()
    return _render("login.html")


@bp.route("/login", methods=["POST"])
@bp.arguments(LoginForm, location="form")
@bp.response(200, HTML, content_type="text/html", description="After the redirect: the campaigns page.")
@bp.alt_response(303, description="To /ops with a session cookie, or back to /ops/login when the token is wrong.")
@bp.alt_response(403, "FORBIDDEN")
def login(form: dict):
    """Open an ops session with the admin token"""
    token = _token()
    if not _same(form["token"], token):
        return redirect("/ops/login", 303)
    response = redirect("/ops", 303)
    response.set_cookie(COOKIE, _session_cookie(token), max_age=SESSION_SECONDS, path="/ops", httponly=True,
                        samesite="Strict",
                        secure=request.is_secure or settings().public_base_url.lower().startswith("https://"))
    return response


@bp.route("/logout", methods=["POST"])
@bp.response(200, HTML, content_type="text/html", description="After the redirect: the login page.")
@bp.alt_response(303, description="To /ops/login, the session cookie removed.")
def logout():
    """Close the ops session

    Ended server-side: the cookie is refused from now on, even a copy of it.
    """
    token = settings().admin_token
    session_id = _cookie_session(token) if token else None
    if session_id is not None:
        with transaction() as conn:
            ops_sessions.end_session(conn, session_id)
    response = redirect("/ops/login", 303)
    response.delete_cookie(COOKIE, path="/ops")
    return response


@bp.route("", methods=["GET"])
@bp.arguments(CampaignsQuery, location="query")
@bp.response(200, HTML, content_type="text/html", example="<table id=\"campaigns\">…</table>")
@bp.alt_response(422, "VALIDATION_ERROR")
@_page_doc
def campaigns_page(query: dict):
    """Campaigns: surfaced status and blockers, blocked ones first, 50 a page, filtered by the GET form

    Blocked first (FAILED, REJECTED, INPUT_REQUIRED, PENDING_APPROVAL), then most recently updated.
    "Next page" carries a signed cursor and the filters; an unknown status or a forged cursor is a 422.
    """
    if (answer := _session()) is not None:
        return answer
    key = _token()
    after = dashboard_paging.campaign_after(key, query.get("cursor"))  # refused before any query runs
    where = dashboard_paging.campaign_filter(query)
    # one row more than a page says whether there is a next page, without counting
    rows = ops_lists.campaigns(STATEMENT_TIMEOUT_MS, where, after, PAGE_SIZE + 1)
    campaigns, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    per_minute, lag = ops.charts(STATEMENT_TIMEOUT_MS)
    blocker_ids = sorted({b for c in campaigns for b in c["first_blockers"] or ()})
    blockers = ops.blocker_buys(STATEMENT_TIMEOUT_MS, blocker_ids)
    next_cursor = dashboard_paging.campaign_cursor(key, campaigns[-1]) if more else None
    return _render("campaigns.html", campaigns=campaigns, blockers={b["id"]: b for b in blockers},
                   query=query, statuses=[s.value for s in Status],
                   next_link=dashboard_paging.link("/ops", query, next_cursor) if more else None,
                   first_link=dashboard_paging.link("/ops", query) if after else None,
                   events_chart=dashboard_chart.events_per_minute(per_minute),
                   lag_chart=dashboard_chart.inbox_lag(lag))


@bp.route("/campaigns/<id:campaign_id>", methods=["GET"])
@bp.response(200, HTML, content_type="text/html")
@bp.alt_response(404, "NOT_FOUND")
@_page_doc
def campaign_page(campaign_id: str):
    """One campaign: media buys, packages, delivery and the timeline of status changes"""
    if (answer := _session()) is not None:
        return answer
    campaign, buys, packages, timeline = ops.campaign_page(STATEMENT_TIMEOUT_MS, campaign_id, timeline_limit=500)
    if campaign is None:
        raise ApiError(404, "NOT_FOUND", f"No campaign {campaign_id!r}.")
    packages_of: dict[str, list] = {}
    for package in packages:
        packages_of.setdefault(package["media_buy_id"], []).append(package)
    return _render("campaign.html", campaign=campaign, buys=buys, packages_of=packages_of, timeline=timeline)


@bp.route("/agents", methods=["GET"])
@bp.response(200, HTML, content_type="text/html")
@_page_doc
def agents_page():
    """Sales agents: webhook freshness, signature failures, poll errors and next poll"""
    if (answer := _session()) is not None:
        return answer
    agents, per_minute = ops.agents_page(STATEMENT_TIMEOUT_MS)
    return _render("agents.html", agents=agents, signature_failures=_signature_failures(),
                   deviations=_answer_deviations(), events_chart=dashboard_chart.events_per_minute(per_minute))


@bp.route("/storage", methods=["GET"])
@bp.response(200, HTML, content_type="text/html", example="<table id=\"storage\">…</table>")
@_page_doc
def storage_page():
    """Storage: each table's size on disk and rows, the inbox's and the ledger's partitions by day, what is kept how long"""
    if (answer := _session()) is not None:
        return answer
    s = settings()
    keep = {table.name: keep_days(table, s.retention_days, s.dedup_days, s.ledger_retention_days) for table in PARTITIONED}
    return _render("storage.html", tables=ops.storage_page(STATEMENT_TIMEOUT_MS), keep=keep,
                   run_retention_days=s.run_retention_days)


def _signature_failures() -> dict[str, float]:
    """Webhooks refused for their signature or token, per agent, since this web started (its metrics)."""
    failures: dict[str, float] = {}
    for labels, value in metrics.samples("mediabuy_webhooks_received_total"):
        if labels.get("outcome") == "rejected" and labels.get("reason", "").startswith("webhook_"):
            failures[labels["agent"]] = failures.get(labels["agent"], 0) + value
    return failures


def _answer_deviations() -> dict[str, dict[str, float]] | None:
    """Fields each agent's answers lacked, {agent: {"task field": count}}, as the workers counted them
    (MEDIABUY_WORKER_METRICS_URL) and this web's group; None when the workers' metrics cannot be read."""
    name = "mediabuy_agent_answer_deviations_total"
    found = metrics.samples(name)
    url = settings().worker_metrics_url
    if url:
        try:
            found += metrics.samples_at(url, name)
        except (OSError, ValueError) as exc:
            log.warning("cannot read the workers' metrics at %s: %s", url, exc)
            return None
    deviations: dict[str, dict[str, float]] = {}
    for labels, value in found:
        per_field = deviations.setdefault(labels.get("agent", "?"), {})
        key = f"{labels.get('task', '?')} {labels.get('field', '?')}"
        per_field[key] = per_field.get(key, 0) + value
    return deviations


@bp.route("/events/dead", methods=["GET"])
@bp.arguments(DeadEventsQuery, location="query")
@bp.response(200, HTML, content_type="text/html", example="<table id=\"dead\">…</table>")
@bp.alt_response(422, "VALIDATION_ERROR")
@_page_doc
def dead_events_page(query: dict):
    """Dead webhook events (oldest first, 50 a page), and those no media buy matched, with a replay button"""
    if (answer := _session()) is not None:
        return answer
    return _dead_events(query, replayed=None)


def _dead_events(query: dict, replayed: list | None):
    key = _token()
    after = dashboard_paging.event_after(key, query.get("cursor"))
    rows = ops_lists.dead_events(STATEMENT_TIMEOUT_MS, after, PAGE_SIZE + 1)
    events, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    next_cursor = dashboard_paging.event_cursor(key, events[-1]) if more else None
    return _render("dead_events.html", events=events, unmatched=inbox.unmatched(200), replayed=replayed,
                   next_link=dashboard_paging.link("/ops/events/dead", {}, next_cursor) if more else None,
                   first_link="/ops/events/dead" if after else None)


@bp.route("/events/replay", methods=["POST"])
@bp.arguments(ReplayForm, location="form")
@bp.response(200, HTML, content_type="text/html", description="The dead events page, saying what was replayed.")
@_page_doc
def replay(form: dict):
    """Replay dead events (form, with the page's CSRF token)"""
    if (answer := _session()) is not None:
        return answer
    if not _same(form["csrf"], g.csrf):
        raise ApiError(403, "FORBIDDEN", "The form's CSRF token is not valid: reload the page and try again.")
    replayed = inbox.replay(form["event_id"], publisher)
    return _dead_events({}, replayed=replayed)
