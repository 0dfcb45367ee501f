"""store/db.py against the run's PostgreSQL: what after_commit() defers runs once its transaction
commits, never after a rollback, and a nested transaction() block leaves the decision to the outer one
(a counter of reports applied in a batch that rolls back, then applied again event by event, counts once);
connections the server ended are replaced before a caller gets one."""

from __future__ import annotations

import threading

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from mediabuy_sync.config import settings
from mediabuy_sync.store import db
from mediabuy_sync.store.db import after_commit, transaction
from support.tcp_proxy import TcpProxy


def test_after_commit_runs_on_commit_only_and_waits_for_the_outermost_transaction(database):
    ran: list[str] = []

    with transaction() as conn:
        conn.execute("SELECT 1")
        after_commit(lambda: ran.append("committed"))
        assert ran == []  # not before the commit
    assert ran == ["committed"]

    with pytest.raises(ZeroDivisionError), transaction() as conn:
        conn.execute("SELECT 1")
        after_commit(lambda: ran.append("rolled back"))
        1 / 0
    with pytest.raises(Exception), transaction() as conn:  # noqa: B017 - PostgreSQL refuses a statement
        after_commit(lambda: ran.append("failed in PostgreSQL"))
        conn.execute("SELECT 1 / 0")
    assert ran == ["committed"]

    with transaction():
        with transaction():
            after_commit(lambda: ran.append("nested"))
        assert ran == ["committed"]  # the inner block committed, the outer one has not yet
    assert ran == ["committed", "nested"]

    with pytest.raises(ZeroDivisionError), transaction():
        with transaction():
            after_commit(lambda: ran.append("nested, outer rolled back"))
        1 / 0
    assert ran == ["committed", "nested"]

    after_commit(lambda: ran.append("no transaction"))  # at once
    assert ran[-1] == "no transaction"


@pytest.fixture
def pool_via_proxy(database, monkeypatch):
    """This process's pool, connected to PostgreSQL through a proxy the test can cut, as a server
    that stops ends every connection."""
    info = conninfo_to_dict(database)
    proxy = TcpProxy(info.get("host") or "127.0.0.1", int(info.get("port") or 5432)).start()
    db.close_pool()
    monkeypatch.setenv("DATABASE_URL", make_conninfo(database, host="127.0.0.1", port=proxy.port))
    monkeypatch.setenv("MEDIABUY_DB_POOL_TIMEOUT_SECONDS", "2.5")
    settings.cache_clear()
    yield proxy
    db.close_pool()
    proxy.cut()
    monkeypatch.undo()
    settings.cache_clear()


def test_a_connection_the_server_ended_is_not_handed_out_even_just_after_its_last_use(pool_via_proxy):
    with transaction() as conn:
        conn.execute("SELECT 1")
    # ended and back within db.CHECK_IDLE_AFTER_SECONDS of the connection's last use, when it is not
    # checked with a round trip: its socket's end is seen instead (this answered 503 in the web)
    pool_via_proxy.cut()
    pool_via_proxy.restore()
    with transaction() as conn:
        assert conn.execute("SELECT 2 AS n").fetchone()["n"] == 2


def test_once_one_connection_is_found_dead_the_others_are_replaced_not_tried_one_by_one(pool_via_proxy):
    # three connections in the pool at once
    held, release = threading.Barrier(4), threading.Event()

    def hold():
        with transaction() as conn:
            conn.execute("SELECT 1")
            held.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    held.wait(timeout=10)
    release.set()
    for thread in threads:
        thread.join()
    assert db.pool().get_stats()["pool_available"] == 3

    pool_via_proxy.cut()
    pool_via_proxy.restore()
    # psycopg_pool waits ~1 s after a second failed check, then ~2 s: trying the three dead ones in
    # turn would exceed the 2.5 s pool timeout (PoolTimeout, a 503); the first failure replaces them all
    with transaction() as conn:
        assert conn.execute("SELECT 3 AS n").fetchone()["n"] == 3
