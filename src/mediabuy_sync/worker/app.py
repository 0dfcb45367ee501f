"""worker: the Celery app the worker and beat run (`celery --app mediabuy_sync.worker.app:celery_app`).

Its tasks are worker/tasks.py, its schedule worker/schedule.py, its signal handlers (metrics, JSON
logs, log context) worker/instrumentation.py. Senders make their own app (queue/publisher.py).
"""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_ready

from ..config import settings
from ..queue.app import make_celery
from ..queue.names import SDK_QUEUES
from . import instrumentation  # noqa: F401 - its signal handlers: metrics, logs, log context
from .schedule import beat_schedule

log = logging.getLogger(__name__)
# What worker_init decided, logged once the worker is ready (its logging is set up after worker_init).
_started: dict[str, str] = {}

celery_app = make_celery(include=("mediabuy_sync.worker.tasks",))
celery_app.conf.beat_schedule = beat_schedule(settings())
# back on a lost broker within a second of its return (worker/consumer.py)
celery_app.conf.worker_consumer = "mediabuy_sync.worker.consumer:Consumer"


@worker_init.connect
def _require_the_secrets_key(**_):
    """Fail at start, not at the first cascade, if this worker could not open the agents' secrets.
    SystemExit: Celery logs and ignores a receiver's Exception."""
    from ..store.secretbox import SecretsKeyMissing, require_key

    try:
        require_key()
    except SecretsKeyMissing as exc:
        raise SystemExit(f"error: {exc}") from None


@worker_init.connect
def _load_the_adcp_client(sender=None, **_):
    """Import the ADCP SDK (~15 s, ~560 MB) once in the worker's parent, before the pool forks, so
    the children share it copy-on-write instead of each paying for it on its first poll — in a worker
    that calls agents (queue/names.SDK_QUEUES). An ingest worker never does: it starts in seconds, lean."""
    import gc

    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []
    _started["queues"] = ",".join(queues)
    if queues and not SDK_QUEUES.intersection(queues):
        _started["sdk"] = "not loaded"
        return
    _started["sdk"] = "loaded"

    import mediabuy_sync.services.cascade_jobs  # noqa: F401 - and with it the SDK (adcp/client.py)
    import mediabuy_sync.services.polling  # noqa: F401

    from .. import metrics
    from ..adcp import client

    # The client may not import metrics (its layer); what it reads leniently, the worker counts.
    client.deviation_hook = metrics.count_deviation

    # Keep the collector off those objects in the children: its bookkeeping writes would copy
    # the shared pages one by one.
    gc.collect()
    gc.freeze()


@worker_ready.connect
def _say_what_was_loaded(**_):
    if _started:
        log.info("worker for queues %s: the ADCP SDK is %s", _started["queues"], _started["sdk"])
