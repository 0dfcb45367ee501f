"""store: the process's PostgreSQL connection pool, its transactions, and the SQL files it runs."""

from __future__ import annotations

import contextvars
import re
import select
import threading
import time
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Callable, Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..config import settings

# What "PostgreSQL is unreachable" looks like to callers: the web answers 503, tasks retry.
Unavailable = (psycopg.OperationalError, PoolTimeout)

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


def pool() -> ConnectionPool:
    """This process's pool, opened on first use (after gunicorn or Celery has forked)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                s = settings()
                _pool = ConnectionPool(
                    s.database_url,
                    min_size=1,
                    max_size=s.db_pool_max,
                    timeout=s.db_pool_timeout_seconds,
                    kwargs={"connect_timeout": max(1, round(s.db_connect_timeout_seconds)), "row_factory": dict_row},
                    # a connection that died with the server is found before a request gets it
                    check=_check_if_suspect,
                    # No reconnection schedule in the background (psycopg_pool gives up after a second
                    # attempt): a request that finds the pool empty starts a new attempt, so a server
                    # that comes back is used by the next request rather than after a backoff.
                    reconnect_timeout=0,
                    open=False,
                    name="mediabuy",
                )
                _pool.open(wait=False)
    return _pool


# A connection returned moments ago is alive: checking it would cost a round trip per transaction, a
# third of the web's time per webhook and a tenth of a worker's per event (bench/, py-spy). One idle
# longer than this is checked before use, so a restarted or unreachable server is still noticed.
CHECK_IDLE_AFTER_SECONDS = 1.0


@contextmanager
def _connection() -> Iterator[psycopg.Connection]:
    """A connection from the pool, stamped as it goes back. Stamped here, not by the pool's `reset=`
    callback: with one, psycopg_pool hands every returned connection to its worker thread, i.e. thread
    wake-ups and GIL hand-offs per transaction (webhooks: 9.2 -> 6.0 voluntary context switches each
    and ~10 % more accepted/s without it, bench/profile_web.py)."""
    with pool().connection() as conn:
        try:
            yield conn
        finally:
            conn._mediabuy_returned_at = time.monotonic()


def _check_if_suspect(conn: psycopg.Connection) -> None:
    """Check a connection with a round trip if it sat idle, or if its socket has something to read
    (a poll, under a microsecond): between transactions the server sends next to nothing but its end
    (it stopped, a proxy cut the connection), which is so seen even within CHECK_IDLE_AFTER_SECONDS of
    the last use. Without it, a web process handed the next request a connection its last one had left
    just before a restart, and answered 503 after the server was back."""
    idle = time.monotonic() - getattr(conn, "_mediabuy_returned_at", float("-inf"))
    try:
        if idle > CHECK_IDLE_AFTER_SECONDS or _readable(conn):
            ConnectionPool.check_connection(conn)
    except Exception:
        # The others in the pool are likely dead too (a restarted server ends them all). From the
        # second failed check on, the pool waits before the next (about 1 s, then 2 s, …), so trying
        # them one by one could exhaust a request's MEDIABUY_DB_POOL_TIMEOUT_SECONDS (a 503 after
        # the server was back); new connections are made instead.
        conn_pool = _pool
        if conn_pool is not None:
            conn_pool.drain()
        raise


def _readable(conn: psycopg.Connection) -> bool:
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def close_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None


# What to do once the current transaction() has committed (see after_commit): a list per
# transaction() block, in this thread or task.
_on_commit: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "mediabuy_on_commit", default=None)


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """A connection inside one transaction: committed on success, rolled back on error. What
    after_commit() was given meanwhile runs after the commit, or not at all on a rollback."""
    outer = _on_commit.get()
    pending: list[Callable[[], None]] = []
    token = _on_commit.set(pending)
    try:
        with _connection() as conn:
            yield conn
    finally:
        _on_commit.reset(token)
    # committed (an error, a failed commit included, raised above and dropped `pending`)
    if outer is not None:
        outer.extend(pending)  # inside another transaction() block: that one decides
    else:
        for callback in pending:
            callback()


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the enclosing transaction() commits — never if it rolls back (e.g. a
    counter of what the transaction did: a batch rolled back and applied again is counted once). At
    once when there is no enclosing transaction() block."""
    pending = _on_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


def after_commit_once(callback: Callable[[], None]) -> None:
    """after_commit, unless the same callable is pending already: e.g. one wake-up of the notification
    worker for a batch that wrote a hundred notifications."""
    pending = _on_commit.get()
    if pending is None or callback not in pending:
        after_commit(callback)


@contextmanager
def autocommit() -> Iterator[psycopg.Connection]:
    """A connection in autocommit mode: each statement is its own transaction, one round trip. For a
    lone read or single-statement write on a hot path: inside transaction() the same statement costs
    three (BEGIN, the statement, COMMIT), e.g. 225 µs against 62 µs for a small read here."""
    with _connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            if not conn.closed:  # a broken one is discarded by the pool anyway
                conn.autocommit = False


_QUERY_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def queries(module: str) -> dict[str, str]:
    """The named queries of store/sql/<module>.sql, each introduced by `-- name: <name>`."""
    text = resources.files(__package__).joinpath("sql", f"{module}.sql").read_text()
    parts = _QUERY_HEADER.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}
