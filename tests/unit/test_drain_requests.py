"""web/drain_requests.py: a drain request is sent after every commit, at most one per window."""

from __future__ import annotations

import threading
import time

from mediabuy_sync.queue.drain_requests import DrainRequests

WINDOW = 0.3


class Sends:
    """What the requester sent, and from which thread."""

    def __init__(self):
        self.threads: list[str] = []
        self.at: list[float] = []
        self.fail = False
        self.sent = threading.Condition()

    def __call__(self):
        with self.sent:
            self.threads.append(threading.current_thread().name)
            self.at.append(time.monotonic())
            self.sent.notify_all()
        if self.fail:
            raise ConnectionError("redis is down")

    def wait_for(self, n: int, timeout: float = 5) -> None:
        with self.sent:
            assert self.sent.wait_for(lambda: len(self.at) >= n, timeout), f"{len(self.at)} sends, wanted {n}"


def test_the_first_commit_sends_at_once_on_its_own_thread():
    sends = Sends()
    DrainRequests(sends, WINDOW).after_commit()
    assert sends.threads == [threading.current_thread().name]


def test_commits_within_the_window_get_one_request_at_its_end():
    sends = Sends()
    requests = DrainRequests(sends, WINDOW)
    first = time.monotonic()
    requests.after_commit()
    for _ in range(50):
        requests.after_commit()
    assert len(sends.at) == 1  # the rest are owed, not sent on the callers' threads
    sends.wait_for(2)
    assert sends.threads[1] == "drain-requests"
    assert sends.at[1] - first >= WINDOW * 0.9  # not before the window's end
    time.sleep(WINDOW * 2)
    assert len(sends.at) == 2  # one request for all fifty


def test_a_commit_after_the_owed_request_went_out_gets_another():
    sends = Sends()
    requests = DrainRequests(sends, WINDOW)
    requests.after_commit()
    requests.after_commit()
    sends.wait_for(2)
    requests.after_commit()  # inside the new window: owed again
    sends.wait_for(3)
    assert sends.threads[2] == "drain-requests"


def test_a_failed_request_from_the_sender_does_not_stop_it():
    sends = Sends()
    requests = DrainRequests(sends, WINDOW)
    requests.after_commit()
    sends.fail = True
    requests.after_commit()
    sends.wait_for(2)  # failed, logged
    sends.fail = False
    requests.after_commit()
    sends.wait_for(3)


def test_window_zero_sends_after_every_commit():
    sends = Sends()
    requests = DrainRequests(sends, 0)
    for _ in range(3):
        requests.after_commit()
    assert sends.threads == [threading.current_thread().name] * 3
