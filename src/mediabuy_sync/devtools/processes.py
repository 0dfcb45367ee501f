"""devtools: our processes as the tests and the benchmarks start them — from their Procfile lines, each
in a process group of its own with its output in a log file. The service itself never imports it."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # the checkout
BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    """The Procfile: {process name: its command line}."""
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def procfile_argv(name: str) -> list[str]:
    """The Procfile's command for `name`, its program from this virtual environment."""
    argv = shlex.split(procfile()[name])
    argv[0] = str(BIN / argv[0])
    return argv


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """n distinct free ports: held open together while they are picked (free_port() called n times
    can hand out one port twice once its socket is closed, e.g. two simulated agents on one port)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition",
               error: type[Exception] = TimeoutError):
    """Poll `predicate` until it returns something truthy, and return that; raise `error` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Process:
    """One process, its output in <output>/<name>.log, listed in `started` until stopped (so a
    harness can stop whatever is left, whatever failed)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], output: Path, started: list):
        output.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = output / f"{name}.log"
        self._log = open(self.log_path, "ab")
        # the file keeps what earlier processes of this name wrote; log() is this one's output only
        # (else a restarted worker looked ready at once, from its predecessor's " ready.")
        self._log_from = self._log.tell()
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self._started = started
        started.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(self._log_from)
            return f.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """`sig` to its process group; SIGKILL if it is still there after `timeout` seconds."""
        if self in self._started:
            self._started.remove(self)
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()
