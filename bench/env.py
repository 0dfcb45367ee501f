"""The benchmarks' own world: a database `mediabuy_bench_<pid>` and a Redis namespace of their own
(dropped at the end), and our real processes started from their Procfile lines, as ./dev up runs them.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from mediabuy_sync.devtools import processes as devprocs
from mediabuy_sync.devtools.processes import BIN, ROOT, free_port  # noqa: F401 - the benchmarks' names for them

RUN_ID = f"{os.getpid()}_{secrets.token_hex(2)}"
OUTPUT = ROOT / "bench-output" / RUN_ID

STARTED: list["Process"] = []


def configure() -> dict[str, str]:
    """Point this process (and every process it starts) at the bench database and namespace."""
    from mediabuy_sync.devtools import services as devservices

    base_db = devservices.postgres_server(ROOT, "mediabuy")
    os.environ.update({
        "DATABASE_URL": devservices.with_database(base_db, f"mediabuy_bench_{RUN_ID}"),
        "REDIS_URL": devservices.redis_server(ROOT),
        "MEDIABUY_REDIS_NAMESPACE": f"mbbench-{RUN_ID}:",
        # the periodic jobs stay out of the way; the benchmarks that need one call it directly
        # beat runs only in the polling benchmark; its sweep every second, as fast as the sweep can go
        "MEDIABUY_POLL_SWEEP_INTERVAL_SECONDS": "1",
    })
    # agent secrets are sealed at rest (secretbox): a key of this run's own unless one is given
    os.environ.setdefault("MEDIABUY_SECRETS_KEY", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return dict(os.environ)


@contextmanager
def bench_world():
    """Create and migrate the database; drop it and the Redis namespace at the end."""
    from mediabuy_sync.devtools import services as devservices
    from mediabuy_sync.store.migrate import upgrade

    env = configure()
    url = env["DATABASE_URL"]
    devservices.create_database(url)
    upgrade(url)
    try:
        yield env
    finally:
        stop_all()
        from mediabuy_sync.store.db import close_pool

        close_pool()
        devservices.drop_database(url)
        purge_namespace(env)


def purge_namespace(env: dict[str, str]) -> None:
    r = redis.Redis.from_url(env["REDIS_URL"])
    keys = list(r.scan_iter(match=env["MEDIABUY_REDIS_NAMESPACE"] + "*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i:i + 500])


def reset_data() -> None:
    """Empty every table between benchmarks (the migrations' bookkeeping stays)."""
    from mediabuy_sync.store.db import transaction

    with transaction() as conn:
        tables = [r["tablename"] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")]
        conn.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
    # the queue and our own keys (coalescing claims, polls in flight) but not the broker's bindings:
    # a shared worker may be listening
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    ns = os.environ["MEDIABUY_REDIS_NAMESPACE"]
    keys = [k for k in r.scan_iter(match=ns + "*", count=1000) if b"_kombu.binding" not in k]
    if keys:
        r.delete(*keys)


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    return devprocs.wait_until(predicate, timeout, interval, what)


class Process(devprocs.Process):
    """One process, its output in bench-output/<run>/<name>.log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        super().__init__(name, argv, env, OUTPUT, STARTED)


def start_web(env: dict[str, str], name: str = "web", app: str | None = None, ready_path: str = "/healthz",
              timeout: float = 60) -> tuple[Process, str]:
    """gunicorn with our gunicorn_conf (the Procfile's line); `app` swaps the WSGI app (the bare route)."""
    port = free_port()
    argv = devprocs.procfile_argv("web")
    if app is not None:
        argv[-1] = app
    base = f"http://127.0.0.1:{port}"
    # the web refuses to start without its public URL (RFC 9421 signatures are bound to it)
    proc = Process(name, argv, {"MEDIABUY_PUBLIC_BASE_URL": base, **env, "MEDIABUY_BIND": f"127.0.0.1:{port}"})
    wait_until(lambda: _answers(proc, base + ready_path), timeout, what=f"{name} on {ready_path}")
    return proc, base


def _answers(proc: Process, url: str) -> bool:
    import requests

    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited:\n{proc.log()[-3000:]}")
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def start_worker(env: dict[str, str], name: str = "worker", concurrency: int = 2, timeout: float = 180,
                 line: str = "worker") -> Process:
    """A worker from the Procfile's `line` (`worker`: all three queues; `worker-ingest`: …)."""
    argv = devprocs.procfile_argv(line)
    if "--hostname" in argv:  # ours, unique per run, replaces the line's
        del argv[argv.index("--hostname"):argv.index("--hostname") + 2]
    argv[argv.index("--concurrency") + 1] = str(concurrency)
    argv += ["--hostname", f"{name}-{RUN_ID}@%h"]
    proc = Process(name, argv, env)
    wait_until(lambda: " ready." in proc.log() or not proc.alive(), timeout, 0.05, what=f"{name} ready")
    if not proc.alive():
        raise RuntimeError(f"{name} exited:\n{proc.log()[-3000:]}")
    proc.ready_seconds = time.monotonic() - proc.started_at  # its cold start (footprint)
    return proc


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS of one process, in MB (from /proc/<pid>/smaps_rollup)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            out[key.lower()] = int(rest.split()[0]) / 1024
    return out


def stop_all(keep_shared: bool = False) -> None:
    for proc in list(STARTED):
        if keep_shared and proc is _shared.get("worker"):
            continue
        proc.stop(timeout=5)
    if not keep_shared:
        _shared.clear()


# One worker (the Procfile's, two processes) shared by the benchmarks that run the code as configured:
# a cold start with the ADCP SDK costs ~15 s, which --quick cannot pay five times.
_shared: dict[str, Process] = {}


def running_shared_worker() -> Process | None:
    proc = _shared.get("worker")
    return proc if proc is not None and proc.alive() else None


def shared_worker(env: dict[str, str]) -> Process:
    proc = _shared.get("worker")
    if proc is None or not proc.alive():
        proc = _shared["worker"] = start_worker(env, name="worker")
    return proc


def start_beat(env: dict[str, str], name: str = "beat", timeout: float = 60) -> Process:
    proc = Process(name, devprocs.procfile_argv("beat") + ["--schedule", str(OUTPUT / f"{name}-schedule")], env)
    wait_until(lambda: "beat: Starting" in proc.log() or not proc.alive(), timeout, what=f"{name} start")
    if not proc.alive():
        raise RuntimeError(f"{name} exited:\n{proc.log()[-3000:]}")
    return proc


def start_python(name: str, module_args: list[str], env: dict[str, str], ready: str, timeout: float = 180) -> Process:
    """`python -m …` (a bench helper such as bench.fake_agents), ready once its log shows `ready`."""
    proc = Process(name, [sys.executable, "-m", *module_args], env)
    wait_until(lambda: ready in proc.log() or not proc.alive(), timeout, 0.1, what=f"{name}: {ready!r}")
    if not proc.alive():
        raise RuntimeError(f"{name} exited:\n{proc.log()[-3000:]}")
    return proc
