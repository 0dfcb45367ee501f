"""services: the agents' webhook credentials as the web verifies with them — read from PostgreSQL, and
kept in each web process for a few seconds, invalidated the moment they change.

Why kept: the read was one PostgreSQL round trip, an aggregate query and a Fernet decryption per
webhook; and an unknown agent id or a bad signature must cost no round trip either (issue 20: a
stranger's refusal is cheap). Why it is safe: every change to an agent or its credentials (added,
retired, revoked, a JWKS refresh, an edit by hand) fires migration 0020's trigger, which NOTIFYs
every web process on commit; each one LISTENs on a connection of its own (store/notify.py) and drops
that agent at once. While that connection is down nothing is kept (every lookup reads), and when it
comes back everything kept before is dropped: a notification missed meanwhile cannot leave a revoked
secret in use. The cost: one PostgreSQL connection per web process.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from ..adcp.signatures import InboundAuth
from ..config import settings
from ..store import agents, notify
from ..store.db import autocommit

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
# Unknown agent ids are kept too (a stranger's 404 costs no round trip): bounded, since ids are theirs.
MAX_KEPT = 10_000

_kept: dict[str, tuple[float, InboundAuth | None]] = {}  # agent id → (read at, credentials or None: unknown)
_lock = threading.Lock()
_generation = 0  # bumped by every invalidation: a read that began before one is not kept after it
_listening = threading.Event()
_listener_pid: int | None = None
_heard = threading.Condition()
_heard_count: dict[str, int] = {}  # agent id → notifications heard (only what our own commits and operators cause)


def lookup(agent_id: str, fresh: bool = False) -> tuple[InboundAuth | None, bool]:
    """(the agent's credentials or None if no such agent, whether they were kept rather than read now)."""
    _ensure_listener()
    now = time.monotonic()
    if not fresh and _listening.is_set():
        kept = _kept.get(agent_id)
        if kept is not None and now - kept[0] < CACHE_SECONDS:
            return kept[1], True
    with _lock:
        generation = _generation
    with autocommit() as conn:
        found = agents.inbound_credentials(conn, agent_id)
    auth = None if found is None else InboundAuth(
        found.agent_id, found.scheme, found.secrets, found.public_jwks, found.hmac_compact_json,
        found.revoked_key_ids)
    with _lock:
        if _listening.is_set() and generation == _generation:
            if len(_kept) >= MAX_KEPT:
                for stale in [key for key, (at, _) in _kept.items() if now - at >= CACHE_SECONDS]:
                    del _kept[stale]
            if len(_kept) < MAX_KEPT:
                _kept[agent_id] = (now, auth)
    return auth, False


_read_again_at: dict[str, float] = {}  # agent id → when a refusal last read its credentials again
READ_AGAIN_SECONDS = 1.0


def may_read_again(agent_id: str) -> bool:
    """Whether a signature that failed against kept credentials may read them again now: once per
    READ_AGAIN_SECONDS per agent (registered agents only, so the table is bounded by them)."""
    now = time.monotonic()
    with _lock:
        if now - _read_again_at.get(agent_id, -READ_AGAIN_SECONDS) < READ_AGAIN_SECONDS:
            return False
        _read_again_at[agent_id] = now
        return True


def forget(agent_id: str | None = None) -> None:
    """Drop what this process keeps of one agent (None: of every agent)."""
    global _generation
    with _lock:
        _generation += 1
        if agent_id is None:
            _kept.clear()
        else:
            _kept.pop(agent_id, None)


def heard(agent_id: str) -> int:
    """How many change notifications about the agent this process has heard (see wait_heard)."""
    return _heard_count.get(agent_id, 0)


def wait_heard(agent_id: str, after: int, timeout: float) -> bool:
    """Wait until this process hears of a change to the agent past `after` notifications: once a
    revocation's own notification came back here, every listening process was sent it at the same
    moment (an admin answer then means "refused everywhere", not "refused soon")."""
    with _heard:
        return _heard.wait_for(lambda: _heard_count.get(agent_id, 0) > after, timeout)


def listening() -> bool:
    """Whether this process hears of credential changes (and so keeps credentials at all)."""
    return _listening.is_set()


def _ensure_listener() -> None:
    """One listener thread per process, started by the first lookup (after gunicorn forked the worker)."""
    global _listener_pid
    pid = os.getpid()
    if _listener_pid == pid:
        return
    with _lock:
        if _listener_pid == pid:
            return
        _listener_pid = pid
        _listening.clear()
        _kept.clear()
    threading.Thread(target=_listen_forever, name="credential-changes", daemon=True).start()


def _listen_forever() -> None:
    s = settings()
    while True:
        try:
            for agent_id in notify.listen(s.database_url, notify.AGENT_CREDENTIALS, s.db_connect_timeout_seconds, 5.0):
                if agent_id is not None:
                    forget(agent_id)
                    with _heard:
                        _heard_count[agent_id] = _heard_count.get(agent_id, 0) + 1
                        _heard.notify_all()
                elif not _listening.is_set():
                    forget()  # what was kept before we listened may have changed meanwhile
                    _listening.set()
        except Exception as exc:  # noqa: BLE001 - any failure: stop keeping, reconnect
            log.warning("not listening for credential changes (%s): every webhook reads its agent's credentials", exc)
        _listening.clear()
        forget()
        time.sleep(1.0)
