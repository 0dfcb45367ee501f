"""services: an RFC 9421 agent's JWKS fetched again — in the background, never in a request.

Why: a webhook with an unknown key id is free to send, and the fetch was done in the request's thread
(a JWKS server dripping a byte every 2 s held it for 80 s, issue 20). Now the request is refused at
once (401 webhook_signature_key_unknown) and a refresh requested: one thread per agent in this
process at most (single-flight), one process per agent and interval across the tier
(agents.claim_jwks_refresh), one deadline for the whole fetch (adcp/jwks.py). What it stores fires
migration 0020's trigger, so every web process sees the new keys at the agent's retry.

A refresh that would retire every active key is refused and alarmed (log ERROR and
mediabuy_jwks_refresh_total{outcome="refused_retire_all"}): a JWKS server that is broken, or taken
over, must not lock a working agent out; an operator who means it runs `agents refresh-keys`.
"""

from __future__ import annotations

import logging
import threading

from .. import metrics
from ..adcp import jwks
from ..config import settings
from ..store import agents
from ..store.db import transaction

log = logging.getLogger(__name__)

_running: set[str] = set()
_lock = threading.Lock()


def request(agent_id: str) -> bool:
    """Start a background refresh of the agent's JWKS unless one is running here; False if one was."""
    with _lock:
        if agent_id in _running:
            return False
        _running.add(agent_id)
    thread = threading.Thread(target=_run, args=(agent_id,), name=f"jwks-refresh-{agent_id}", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # no more threads: nothing started, nothing to undo but the mark
        with _lock:
            _running.discard(agent_id)
        return False
    return True


def running(agent_id: str) -> bool:
    return agent_id in _running


def _run(agent_id: str) -> None:
    try:
        outcome = refresh(agent_id)
    except Exception:  # noqa: BLE001 - a background thread: logged, the next unknown key id tries again
        log.exception("JWKS refresh of %s failed", agent_id)
        outcome = "error"
    finally:
        with _lock:
            _running.discard(agent_id)
    metrics.JWKS_REFRESH.labels(outcome).inc()


def refresh(agent_id: str) -> str:
    """Fetch and store the agent's keys if it is this process's turn; the outcome, for the counter."""
    s = settings()
    with transaction() as conn:
        jwks_uri = agents.claim_jwks_refresh(conn, agent_id, s.jwks_refresh_interval_seconds)
    if jwks_uri is None:
        return "not_due"
    try:
        keys = jwks.fetch_jwks(jwks_uri, s.jwks_fetch_timeout_seconds, allow_http=bool(s.jwks_allow_http))
    except jwks.JwksError as exc:
        log.warning("JWKS refresh of %s failed: %s", agent_id, exc)
        return "failed"
    with transaction() as conn:
        active = set(agents.active_jwks(conn, agent_id))
        if active and not active & set(keys):
            log.error("JWKS refresh of %s refused: it would retire every active key %s (fetched %s); "
                      "if that is meant, run `mediabuy-sync agents refresh-keys %s`",
                      agent_id, sorted(active), sorted(keys), agent_id)
            return "refused_retire_all"
        retired = agents.store_jwks(conn, agent_id, keys)
    log.info("JWKS of %s refreshed: keys %s, retired %s", agent_id, sorted(keys), retired)
    return "refreshed"
