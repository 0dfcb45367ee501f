"""worker: metrics and log context for Celery, from its signals — nothing in the tasks themselves.

- Every task runs with the log context its sender put in the message (queue/app.py), plus what its
  arguments name (event, campaign, agent).
- Durations, failures and retries per task; tasks published per task.
- A worker's parent and beat serve their process group's metrics on a small HTTP port
  (MEDIABUY_WORKER_METRICS_PORT, MEDIABUY_BEAT_METRICS_PORT; 0: off).
"""

from __future__ import annotations

import logging
import time

from celery import signals

from .. import logs, metrics
from ..config import settings
from ..queue.app import CONTEXT_HEADER
from ..queue.names import AGENTS_QUEUE, INGEST, INGEST_QUEUE, INTERACTIVE_QUEUE, POLL_AGENT, RECOMPUTE, RUN_CASCADE_AGENT

log = logging.getLogger(__name__)

# What a task's positional arguments are, for its log lines.
_ARGUMENT_FIELDS = {
    INGEST: ("event_id",),
    RECOMPUTE: ("campaign_id",),
    POLL_AGENT: ("agent_id",),
    RUN_CASCADE_AGENT: (None, "agent_id"),
}
_started: dict[str, float] = {}


@signals.setup_logging.connect
def _json_logs(loglevel=None, **_):
    # Connected: Celery leaves logging to us (worker and beat alike).
    logs.configure_logging()


# A worker of one kind serves its metrics on MEDIABUY_WORKER_METRICS_PORT plus its kind's offset.
METRICS_PORT_OFFSETS = {INGEST_QUEUE: 0, AGENTS_QUEUE: 1, INTERACTIVE_QUEUE: 2}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, args=None, **_):
    logs.clear()
    context = dict(getattr(task.request, CONTEXT_HEADER, None) or {})
    for name, value in zip(_ARGUMENT_FIELDS.get(task.name, ()), args or ()):
        if name is not None:
            context[name] = value
    logs.bind(**context)
    _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **_):
    started = _started.pop(task_id, None)
    if started is not None:
        metrics.TASK_DURATION.labels(task.name, (state or "unknown").lower()).observe(time.monotonic() - started)
    logs.clear()


@signals.task_failure.connect
def _task_failed(sender=None, exception=None, **_):
    metrics.TASK_FAILURES.labels(getattr(sender, "name", "unknown"), type(exception).__name__).inc()


@signals.task_retry.connect
def _task_retried(sender=None, **_):
    metrics.TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()


@signals.worker_init.connect
def _worker_metrics(sender=None, **_):
    port = settings().worker_metrics_port
    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []
    if port and len(queues) == 1 and queues[0] in METRICS_PORT_OFFSETS:
        # one worker per kind on one host (./dev up): each its own port, from the one setting
        port += METRICS_PORT_OFFSETS[queues[0]]
    _serve_group(port, "worker")


@signals.beat_init.connect
def _beat_metrics(**_):
    _serve_group(settings().beat_metrics_port, "beat")


@signals.worker_shutdown.connect
def _worker_gone(**_):
    metrics.remove_own_dir()


@signals.worker_process_shutdown.connect
def _child_gone(pid=None, **_):
    if pid:
        metrics.mark_process_dead(pid)


def _serve_group(port: int, role: str) -> None:
    """In the group's first process, before any child: start clean, then serve (if a port is set)."""
    metrics.reset_multiprocess_dir()
    if not port:
        return
    try:
        metrics.serve_group(port, settings().metrics_bind)
    except OSError as exc:  # a port taken must not stop the worker: its work matters more
        log.error("%s metrics not served on port %s: %s", role, port, exc)
    else:
        log.info("%s metrics on http://%s:%s/metrics", role, settings().metrics_bind, port)


# A stop, said as a JSON log line. Celery's own SIGTERM handler also writes "worker: Warm shutdown (MainProcess)"
# as plain text, straight to the stream (not through logging), which breaks "every line is one JSON event" for a
# log collector: once the worker has installed its handlers, install the same handler again without that line.
@signals.worker_ready.connect
def _quiet_shutdown_handler(sender=None, **_):
    worker = getattr(sender, "controller", None)  # the sender is the worker's consumer
    try:
        from celery.apps.worker import _shutdown_handler
    except ImportError:  # a Celery without it: its text line stays, nothing else changes
        return
    if worker is not None:
        _shutdown_handler(worker, sig="SIGTERM", how="Warm", verbose=False)


@signals.worker_shutting_down.connect
def _shutting_down(sig=None, how=None, **_):
    log.info("%s shutdown on %s: no new tasks; the running ones finish", how, sig)
