"""store/db.py against the run's PostgreSQL: what after_commit() defers runs once its transaction
commits, never after a rollback, and a nested transaction() block leaves the decision to the outer one
(a counter of reports applied in a batch that rolls back, then applied again event by event, counts once)."""

from __future__ import annotations

import pytest

from mediabuy_sync.store.db import after_commit, transaction


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
