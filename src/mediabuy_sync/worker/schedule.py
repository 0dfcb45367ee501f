"""worker: beat's schedule — the sweeps and purges that heal what a lost task or broker left behind.

Each job claims its turn in PostgreSQL (store/periodic.py), so two beats still run it once a period;
but the inbox watch, which only asks for a drain that Redis deduplicates (queue/coalesce.py).
"""

from __future__ import annotations

from ..config import Settings
from ..queue.names import (
    KEEP_DATA, PURGE_NONCES, SWEEP_CASCADES, SWEEP_INBOX, SWEEP_NOTIFICATIONS, SWEEP_POLLS, SWEEP_ROLLUPS, WATCH_INBOX,
)


def beat_schedule(s: Settings) -> dict[str, dict]:
    return {
        "sweep-inbox": {"task": SWEEP_INBOX, "schedule": s.inbox_sweep_interval_seconds},
        "watch-inbox": {"task": WATCH_INBOX, "schedule": s.inbox_watch_interval_seconds},
        "sweep-rollups": {"task": SWEEP_ROLLUPS, "schedule": s.rollup_sweep_interval_seconds},
        "sweep-polls": {"task": SWEEP_POLLS, "schedule": s.poll_sweep_interval_seconds},
        "purge-nonces": {"task": PURGE_NONCES, "schedule": s.nonce_purge_interval_seconds},
        "sweep-cascades": {"task": SWEEP_CASCADES, "schedule": s.inbox_sweep_interval_seconds},
        "sweep-notifications": {"task": SWEEP_NOTIFICATIONS, "schedule": s.notify_sweep_interval_seconds},
        "keep-data": {"task": KEEP_DATA, "schedule": s.retention_interval_seconds},
    }
