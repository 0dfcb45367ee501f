"""web/group_commit.py: threads arriving together share one store; each gets its own result, or its own error."""

from __future__ import annotations

import threading
import time

import pytest

from mediabuy_sync.services.group_commit import GroupCommit


class Store:
    """A store_many that takes `seconds` per batch and records the batches and whether two overlapped."""

    def __init__(self, seconds: float = 0.02):
        self.seconds = seconds
        self.batches: list[list[int]] = []
        self.running = 0
        self.overlapped = False
        self.fail_event: int | None = None  # this event's own result is an error
        self.raise_next: BaseException | None = None  # the whole next batch fails
        self._lock = threading.Lock()

    def __call__(self, events: list[int]) -> list:
        with self._lock:
            self.running += 1
            self.overlapped |= self.running > 1
            self.batches.append(list(events))
        try:
            time.sleep(self.seconds)
            if self.raise_next is not None:
                exc, self.raise_next = self.raise_next, None
                raise exc
            return [ValueError(f"bad {e}") if e == self.fail_event else e * 10 for e in events]
        finally:
            with self._lock:
                self.running -= 1


def store_concurrently(commits: GroupCommit, events: list[int]) -> dict[int, object]:
    results: dict[int, object] = {}
    start = threading.Barrier(len(events))

    def one(event: int) -> None:
        start.wait()
        try:
            results[event] = commits.store(event)
        except BaseException as exc:  # noqa: BLE001 - recorded for the test to look at
            results[event] = exc

    threads = [threading.Thread(target=one, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads), "a thread was never woken"
    return results


def test_a_lone_event_is_stored_by_its_own_thread():
    store = Store(seconds=0)
    assert GroupCommit(store, wait=0).store(7) == 70
    assert store.batches == [[7]]


def test_threads_arriving_together_share_batches_and_each_gets_its_own_result():
    store = Store()
    results = store_concurrently(GroupCommit(store, wait=0.005), list(range(32)))
    assert results == {e: e * 10 for e in range(32)}
    stored = sorted(e for batch in store.batches for e in batch)
    assert stored == list(range(32))  # each event in exactly one batch
    assert len(store.batches) < 32 and max(map(len, store.batches)) > 1
    assert not store.overlapped  # one statement at a time per process


def test_a_failed_batch_fails_each_of_its_threads_and_the_next_batch_goes_ahead():
    store = Store()
    commits = GroupCommit(store, wait=0.005)
    store.raise_next = ConnectionError("database gone")
    results = store_concurrently(commits, list(range(8)))
    failed = sorted(e for e, r in results.items() if isinstance(r, ConnectionError))
    assert failed == sorted(store.batches[0])  # exactly the first batch's threads
    assert all(results[e] == e * 10 for e in results if e not in failed)
    assert commits.store(100) == 1000  # leadership was handed on or released, not lost


def test_an_error_of_one_event_is_raised_in_its_own_thread_only():
    store = Store()
    store.fail_event = 3
    results = store_concurrently(GroupCommit(store, wait=0.005), list(range(8)))
    assert isinstance(results.pop(3), ValueError)
    assert results == {e: e * 10 for e in range(8) if e != 3}


def test_a_store_answering_the_wrong_number_of_results_fails_its_batch_rather_than_hanging():
    commits = GroupCommit(lambda events: events[:-1], wait=0)
    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        commits.store(1)
    results = store_concurrently(GroupCommit(lambda events: events[:-1], wait=0.01), [1, 2, 3])
    assert all(isinstance(r, RuntimeError) for r in results.values())
