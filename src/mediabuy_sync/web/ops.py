"""web: liveness, readiness, and /metrics; the request hooks of the routes Flask answers (request id, counter).

/metrics merges every gunicorn process's values (prometheus_client multiprocess mode, see
metrics.py) and adds gauges read at scrape time from PostgreSQL and Redis, each under a short
timeout so a scrape never hangs on a database that went away.
"""

from __future__ import annotations

import logging
from functools import cache

from flask import current_app, g, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from prometheus_client.core import GaugeMetricFamily

from .. import logs, metrics
from ..domain.inbox import InboxState
from ..queue import keys
from ..store import ops

log = logging.getLogger(__name__)

# Not the envelope: load balancers, orchestrators and Prometheus read these.
bp = Blueprint("ops", __name__, description="Liveness, readiness and metrics.")

SCRAPE_STATEMENT_TIMEOUT_MS = 2000


class Health(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok"]})


class Readiness(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "unavailable"]})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"description": '{"postgres": "ok" | "unavailable: …", "redis": …}'})


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
        ops.ping()
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, it doesn't fail
        checks["postgres"] = f"unavailable: {type(exc).__name__}"
    try:
        keys.client().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.route("/metrics", methods=["GET"])
@bp.response(200, {"type": "string"}, content_type="text/plain",
             description="Prometheus text format: the web's counters and the gauges read at scrape time.")
def metrics_page():
    """Prometheus metrics of the web"""
    body = metrics.exposition(_registry())
    return current_app.response_class(body, mimetype="text/plain", headers={"Cache-Control": "no-store"})


@cache
def _registry():
    return metrics.group_registry(StateCollector())


class StateCollector:
    """Gauges computed from PostgreSQL and Redis when scraped."""

    def collect(self):
        up = GaugeMetricFamily("mediabuy_state_scrape_ok", "1 when the gauges below could be read.", labels=["source"])
        try:
            yield from self._from_postgres()
            up.add_metric(["postgres"], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
            log.warning("metrics: PostgreSQL gauges unavailable (%s)", type(exc).__name__)
            up.add_metric(["postgres"], 0)
        try:
            yield from self._from_redis()
            up.add_metric(["redis"], 1)
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: Redis gauges unavailable (%s)", type(exc).__name__)
            up.add_metric(["redis"], 0)
        yield up

    def _from_postgres(self):
        read = ops.gauges(SCRAPE_STATEMENT_TIMEOUT_MS)
        inbox, campaigns, agents, cascades = read.inbox, read.campaigns_by_surfaced_status, read.agents, read.cascade_items
        yield GaugeMetricFamily("mediabuy_inbox_lag_seconds",
                                "Age of the oldest webhook event received and not yet processed (0: none).",
                                value=inbox["lag_seconds"])
        events = GaugeMetricFamily("mediabuy_inbox_events", "Webhook events waiting (received), dead, or about no "
                                   "buy of ours (unmatched).", labels=["state"])
        events.add_metric([InboxState.RECEIVED], inbox["received"])
        events.add_metric([InboxState.DEAD], inbox["dead"])
        events.add_metric([InboxState.UNMATCHED], inbox["unmatched"])
        yield events
        surfaced = GaugeMetricFamily("mediabuy_campaigns", "Campaigns by surfaced status.", labels=["surfaced_status"])
        for row in campaigns:
            surfaced.add_metric([row["surfaced_status"]], row["campaigns"])
        yield surfaced
        age = GaugeMetricFamily("mediabuy_agent_webhook_age_seconds",
                                "Seconds since the agent's last webhook was received (agents that sent one).",
                                labels=["agent"])
        failures = GaugeMetricFamily("mediabuy_agent_poll_failures", "The agent's failed polls in a row.", labels=["agent"])
        backoff = GaugeMetricFamily("mediabuy_agent_poll_backoff_seconds", "Seconds until the agent is polled again after failures.",
                                    labels=["agent"])
        for row in agents:
            if row["webhook_age_seconds"] is not None:
                age.add_metric([row["agent_id"]], row["webhook_age_seconds"])
            failures.add_metric([row["agent_id"]], row["poll_failures"])
            backoff.add_metric([row["agent_id"]], row["poll_backoff_seconds"])
        yield from (age, failures, backoff)
        ahead = GaugeMetricFamily("mediabuy_partition_days_ahead",
                                  "Days from today the table's partitions cover: rows past them are refused; beat's "
                                  "keep-data job keeps it at MEDIABUY_PARTITIONS_AHEAD_DAYS.", labels=["table"])
        for table, days in read.partition_days_ahead.items():
            ahead.add_metric([table], days)
        yield ahead
        items = GaugeMetricFamily("mediabuy_cascade_items_in_flight",
                                  "Items of running cascades, by cascade kind and item state.", labels=["kind", "state"])
        for row in cascades:
            items.add_metric([row["kind"], row["state"]], row["items"])
        yield items

    def _from_redis(self):
        waiting, unacked = keys.queue_depths()
        depth = GaugeMetricFamily("mediabuy_queue_depth", "Celery tasks waiting in the broker, by queue.", labels=["queue"])
        for queue, n in waiting.items():
            depth.add_metric([queue], n)
        yield depth
        if unacked is not None:  # None with RabbitMQ: its AMQP answer has no such count (queue/rabbit.py)
            yield GaugeMetricFamily("mediabuy_queue_unacked", "Celery tasks taken by workers and not yet acknowledged.",
                                    value=unacked)


# --- hooks on every request Flask answers ------------------------------------------------------


def _before_request():
    logs.clear()
    g.request_id = logs.request_id_from(request.headers.get("X-Request-ID"))
    logs.bind(request_id=g.request_id)


def _after_request(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    # (webhooks are answered, and counted, before Flask: web/ingress.py)
    metrics.HTTP_REQUESTS.labels(rule, f"{response.status_code // 100}xx").inc()
    return response


def _teardown_request(_exc):
    logs.clear()


@bp.record_once
def _install(state) -> None:
    app = state.app
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
