"""Prometheus metrics of every process, in prometheus_client's multiprocess mode.

gunicorn and Celery prefork run several processes per service, so each process writes its values
to files in one directory per process group (PROMETHEUS_MULTIPROC_DIR) and whoever serves the
metrics merges them: the web at /metrics (its own group's), a Celery worker's parent and beat on
their own small HTTP port (MEDIABUY_WORKER_METRICS_PORT, MEDIABUY_BEAT_METRICS_PORT).

prometheus_client picks multiprocess mode when it is imported, so this module sets the directory
up before importing it, and every process imports this module before anything that could import
prometheus_client. The directory is the operator's PROMETHEUS_MULTIPROC_DIR when set (one per
container), else a fresh one per process group under the temporary directory: honcho, the tests and
a bench run web, worker and beat side by side, and they must not mix or wipe each other's files.

Label values are never taken from a request as such: an unknown agent is "unknown".
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile

_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _sweep_dead_groups() -> None:
    """Remove the directories of process groups that died without cleaning up (SIGKILL)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "mediabuy-metrics-*-*")):
        pid = os.path.basename(path).split("-")[2]
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError):
            pass  # not ours to judge


# The directory we made, so that a process started (not forked) by one of ours — a test run starting
# gunicorn, a CLI starting anything — makes its own rather than writing into its parent's. A fork
# (gunicorn's workers, Celery's pool) never runs this code again: it shares its parent's directory.
_AUTO = "MEDIABUY_METRICS_AUTO_DIR"
# True when this process group made its own directory (and so removes it on the way out).
_OWN_DIR = _ENV not in os.environ or os.environ.get(_AUTO) == os.environ[_ENV]
if _OWN_DIR:
    os.environ[_ENV] = os.environ[_AUTO] = tempfile.mkdtemp(prefix=f"mediabuy-metrics-{os.getpid()}-")
    _sweep_dead_groups()
os.makedirs(os.environ[_ENV], exist_ok=True)
_CREATOR = os.getpid()

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402
from prometheus_client import multiprocess, values  # noqa: E402

if not values.ValueClass.__qualname__.startswith("MultiProcessValue"):
    # Imported before the directory was set: celery's CLI loads its plugins first (flower's imports
    # prometheus_client). The metrics below take their value class from here when created.
    values.ValueClass = values.get_value_class()

UNKNOWN_AGENT = "unknown"

# --- web ---------------------------------------------------------------------------------------
WEBHOOKS_RECEIVED = Counter(
    "mediabuy_webhooks_received",
    "Webhooks received, by agent and outcome (accepted, duplicate, rejected) and the rejection's reason.",
    ["agent", "outcome", "reason"],
)
HMAC_COMPACT_JSON = Counter(
    "mediabuy_webhook_hmac_compact_json",
    "Webhooks whose HMAC verified only over the compact JSON of the body (the agent's opt-in leniency).",
    ["agent"],
)
JWKS_REFRESH = Counter(
    "mediabuy_jwks_refresh",
    "Background JWKS refreshes after an unknown key id, by outcome (refreshed, not_due, failed, "
    "refused_retire_all: the fetched set shared no key with the active ones, error).",
    ["outcome"],
)
CLIENT_LIMITED = Counter(
    "mediabuy_client_limited",
    "Requests refused by the per-client-address limit before authentication, by route group.",
    ["group"],
)
HTTP_REQUESTS = Counter(
    "mediabuy_http_requests",
    "HTTP requests answered by the web, by route and status class.",
    ["route", "status"],
)

# --- workers -----------------------------------------------------------------------------------
TASK_DURATION = Histogram(
    "mediabuy_task_duration_seconds",
    "Time a Celery task ran, by task and how it ended (success, retry, failure).",
    ["task", "state"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TASK_FAILURES = Counter("mediabuy_task_failures", "Celery tasks that raised, by task and exception.", ["task", "exception"])
TASK_RETRIES = Counter("mediabuy_task_retries", "Celery task retries asked for, by task.", ["task"])
TASKS_PUBLISHED = Counter("mediabuy_tasks_published", "Celery tasks sent to the broker, by task.", ["task"])
STATUS_REPORTS = Counter(
    "mediabuy_status_reports",
    "Status reports decided, by source (webhook, poll, api, admin) and outcome "
    "(applied, unchanged, stale, anomaly, no-status).",
    ["source", "outcome"],
)
STATUS_TRANSITIONS = Counter(
    "mediabuy_status_transitions",
    "Media-buy status changes applied, by from and to status and source.",
    ["from_status", "to_status", "source"],
)
EVENTS_DEAD = Counter("mediabuy_events_dead", "Webhook events marked dead after their last attempt.")
DRAINS_REQUEUED = Counter(
    "mediabuy_inbox_drains_requeued",
    "Inbox drains queued by beat's inbox watch because events waited with none queued (a lost enqueue, "
    "or a broker that lost its data).",
)
POLL_CALLS = Counter(
    "mediabuy_poll_calls",
    "get_media_buys calls to agents, by agent and outcome (ok, or the error kind).",
    ["agent", "outcome"],
)
AGENT_ANSWER_DEVIATIONS = Counter(
    "mediabuy_agent_answer_deviations",
    "Fields an agent's answer lacked that the protocol requires or we expect (read leniently rather than "
    "failing the call), by agent, task and field.",
    ["agent", "task", "field"],
)
CASCADE_ITEMS = Counter(
    "mediabuy_cascade_items",
    "Cascade items finished, by cascade kind and outcome (done, failed).",
    ["kind", "outcome"],
)
NOTIFICATION_ATTEMPTS = Counter(
    "mediabuy_notification_attempts",
    "POSTs of notifications to buyers' receivers, by the delivery's state after it (delivered, pending: "
    "to be retried, failed).",
    ["outcome"],
)


def multiprocess_dir() -> str:
    return os.environ[_ENV]


def reset_multiprocess_dir() -> None:
    """Empty this process group's directory: once, when the group starts (values of a previous run
    would otherwise be merged into this one's)."""
    directory = multiprocess_dir()
    own = f"_{os.getpid()}.db"  # this process's files are open already (unlabelled metrics): keep them
    for name in os.listdir(directory):
        if name.endswith(".db") and not name.endswith(own):
            os.remove(os.path.join(directory, name))


def remove_own_dir() -> None:
    """On the group's way out: remove the directory if this group made it (from its first process only)."""
    if _OWN_DIR and os.getpid() == _CREATOR:
        shutil.rmtree(multiprocess_dir(), ignore_errors=True)


atexit.register(remove_own_dir)  # a CLI command, a test process: whatever made a directory removes it


def mark_process_dead(pid: int) -> None:
    multiprocess.mark_process_dead(pid, multiprocess_dir())


def group_registry(*extra_collectors) -> CollectorRegistry:
    """A registry of every process of this group, plus collectors computed at scrape time."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir())
    for collector in extra_collectors:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def serve_group(port: int, addr: str = "0.0.0.0") -> None:
    """This group's metrics over HTTP on `port` (a worker's parent, beat), in a daemon thread."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=addr, registry=group_registry())


def samples(name: str) -> list[tuple[dict, float]]:
    """[(labels, value)] of one sample name (e.g. `…_total`) as this group's processes have it now."""
    return [(dict(sample.labels), sample.value) for family in group_registry().collect()
            for sample in family.samples if sample.name == name]


def samples_at(url: str, name: str, timeout: float = 0.5) -> list[tuple[dict, float]]:
    """[(labels, value)] of one sample name from another group's exposition (a worker's metrics port).
    Raises OSError (requests' errors are OSErrors) or ValueError when it cannot be read."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    answer = requests.get(url, timeout=timeout)
    answer.raise_for_status()
    return [(dict(sample.labels), sample.value) for family in text_string_to_metric_families(answer.text)
            for sample in family.samples if sample.name == name]


def count_deviation(agent: str, task: str, field: str) -> None:
    """One field missing from an agent's answer (adcp/client.py's deviation_hook in the worker)."""
    AGENT_ANSWER_DEVIATIONS.labels(agent, task, field).inc()


def count_report(source: str, outcome: str, from_status: str, to_status: str) -> None:
    """One status report decided (worker/status_path.py): its outcome, and the transition if applied."""
    STATUS_REPORTS.labels(source, outcome).inc()
    if outcome == "applied" and from_status != to_status:
        STATUS_TRANSITIONS.labels(from_status, to_status, source).inc()
