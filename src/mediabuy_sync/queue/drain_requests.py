"""queue: the web process's drain requests after webhook commits — at most one per window, the first at once.

Why: asking Redis for a drain (coalesce.request_drain: a SET NX, and a task when the key was new)
after every committed webhook was a round trip per webhook — a tenth of the web's CPU per webhook
under load (bench.profile_web), for an answer that is "a drain is queued already" nearly every time.
Now a commit that finds no request sent by this process within the window sends one at once, on
its own thread (a quiet service hears no delay); a commit inside the window leaves the request
owed, and this process's sender thread sends one at the window's end. Either way a request is
sent after every commit, so a drain that starts after it claims the event (coalesce.py's
reasoning holds). Under load a process sends about one per window; a webhook's event waits at most
one window longer for its drain. If the process dies with a request owed, the events are in
PostgreSQL and the inbox sweeper takes them, as when Redis refuses a request.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class DrainRequests:
    def __init__(self, send: Callable[[], object], window: float):
        self._send = send
        self._window = window
        self._lock = threading.Lock()
        self._owed = threading.Condition(self._lock)
        self._last_sent = float("-inf")
        self._is_owed = False
        self._sender: threading.Thread | None = None
        self._pid = os.getpid()

    def after_commit(self) -> None:
        """Called after a commit that needs a drain; sends now, or leaves it to the sender thread.
        Raises what sending raises (the caller logs: nothing is lost)."""
        if self._window <= 0:
            self._send()
            return
        now = time.monotonic()
        with self._lock:
            if self._is_owed:
                return  # the sender thread sends one after this commit; waking it again would only cost
            if now - self._last_sent < self._window:
                self._is_owed = True
                self._start_sender()
                self._owed.notify()  # it sleeps until owed, then until the window's end
                return
            self._last_sent = now
        self._send()

    def _start_sender(self) -> None:
        if self._sender is None or self._pid != os.getpid():  # after a fork the thread is not ours
            self._pid = os.getpid()
            self._sender = threading.Thread(target=self._run, name="drain-requests", daemon=True)
            self._sender.start()

    def _run(self) -> None:
        with self._lock:
            while True:
                if not self._is_owed:
                    self._owed.wait()
                    continue
                wait = self._last_sent + self._window - time.monotonic()
                if wait > 0:
                    self._owed.wait(wait)
                    continue
                # cleared before sending: a commit from now on is owed a request of its own
                self._is_owed, self._last_sent = False, time.monotonic()
                self._lock.release()
                try:
                    self._send()
                except Exception as exc:  # noqa: BLE001 - the next request or the inbox sweeper makes up for it
                    log.warning("drain request failed (%s); the next one or the inbox sweeper will take the events", exc)
                finally:
                    self._lock.acquire()
