"""Our real processes for the tests: gunicorn, Celery workers and beat, on a database of their own."""

from __future__ import annotations

import os
import signal

import requests

from mediabuy_sync.devtools import processes as devprocs
from mediabuy_sync.devtools.processes import BIN, ROOT, free_port, free_ports  # noqa: F401 - the tests' names for them

# One folder per test run: several runs may share a checkout (CI, a developer, helpers).
OUTPUT = ROOT / "test-output" / os.environ.get("MEDIABUY_TEST_RUN", "adhoc")

# Every process the tests started, so none outlives the run whatever fails (see stop_all).
STARTED: list["Process"] = []

PROCFILE = devprocs.procfile()


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    return devprocs.wait_until(predicate, timeout, interval, what, error=AssertionError)


class Process(devprocs.Process):
    """One of our processes, started from its Procfile line, its output in test-output/<name>.log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        super().__init__(name, argv, env, OUTPUT, STARTED)


def start_web(env: dict[str, str], name: str = "web", port: int | None = None) -> tuple[Process, str]:
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    # Every web has its public URL (it refuses to start without one: RFC 9421 signatures are bound to
    # it): its own address unless the test gives another (a proxy in front, tests/integration).
    env = {"MEDIABUY_PUBLIC_BASE_URL": base, **env, "MEDIABUY_BIND": f"127.0.0.1:{port}"}
    proc = Process(name, devprocs.procfile_argv("web"), env)

    def up():
        assert proc.popen.poll() is None, f"{name} exited:\n{proc.log()[-3000:]}"
        try:
            return requests.get(base + "/healthz", timeout=1).ok
        except requests.RequestException:  # not listening yet, or too busy starting to answer
            return False

    wait_until(up, 30, what=f"{name} to answer /healthz")
    return proc, base


def start_worker(env: dict[str, str], name: str = "worker", concurrency: int = 2) -> Process:
    argv = devprocs.procfile_argv("worker")
    argv[argv.index("--concurrency") + 1] = str(concurrency)
    argv += ["--hostname", f"{name}@%h"]
    proc = Process(name, argv, env)
    # generous: loading the ADCP SDK takes 15 s alone, over a minute on a machine busy with other runs
    wait_until(lambda: " ready." in proc.log() or proc.popen.poll() is not None, 180, what=f"{name} ready")
    assert proc.popen.poll() is None, f"{name} exited:\n{proc.log()[-3000:]}"
    return proc


def start_beat(env: dict[str, str], name: str = "beat") -> Process:
    proc = Process(name, devprocs.procfile_argv("beat"), env)
    wait_until(lambda: "beat: Starting" in proc.log() or proc.popen.poll() is not None, 30, what=f"{name} start")
    assert proc.popen.poll() is None, f"{name} exited:\n{proc.log()[-3000:]}"
    return proc


def stop_all() -> None:
    """Stop whatever is still running (a fixture that failed half-way, an interrupted run)."""
    for proc in list(STARTED):
        proc.stop(timeout=5)


def signal_group(proc: "Process", sig: int) -> None:
    """Send `sig` to a process started here and everything it started (its process group)."""
    try:
        os.killpg(proc.popen.pid, sig)
    except ProcessLookupError:
        pass


def pause_between_transactions(procs: list["Process"], database_url: str, tries: int = 200) -> None:
    """SIGSTOP processes (with their children) at a moment none of them is inside a PostgreSQL
    transaction. A process stopped inside one keeps its row locks for as long as it is stopped: every
    other process that needs those rows waits behind it (tests/faults/test_two_of_each.py stalled so,
    its workers' sweeps queued on the periodic_jobs row of a paused worker's sweep). So: stop them, look
    at their connections' backends, and if one is not idle, let them run a moment and try again."""
    import time

    import psutil
    import psycopg

    for _ in range(tries):
        for proc in procs:
            signal_group(proc, signal.SIGSTOP)
        ports = []
        for proc in procs:
            try:
                family = [psutil.Process(proc.popen.pid), *psutil.Process(proc.popen.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in family:
                try:
                    ports += [c.laddr.port for c in member.net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432]
                except psutil.NoSuchProcess:
                    pass
        with psycopg.connect(database_url, autocommit=True) as conn:
            busy = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(%s) AND state <> 'idle'",
                                (ports,)).fetchone()[0]
        if not busy:
            return
        for proc in procs:
            signal_group(proc, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError(f"could not pause {[p.name for p in procs]} outside a transaction in {tries} tries")
