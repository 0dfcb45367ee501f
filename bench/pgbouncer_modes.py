"""Does our data layer work through PgBouncer in transaction mode? A check, not a benchmark.

Starts Debian's pgbouncer (transaction pooling, one server connection per pool so that clients share
it) in front of the local PostgreSQL, and runs through it what our processes do:

1. statements repeated on a pooled connection, as psycopg 3 runs them by default (it prepares a
   statement server-side from its 5th execution: `prepare_threshold=5`), from two clients at once;
2. the same with `prepare_threshold=None` (never prepared);
3. LISTEN on one client and NOTIFY from another (the revocation broadcast: store/notify.py);
4. a transaction-scoped setting (`set_config(…, true)`: store/ops.py's statement_timeout).

Usage: python -m bench.pgbouncer_modes  (DATABASE_URL as ./dev sets it; pgbouncer from apt-get).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from mediabuy_sync.devtools.processes import free_port


def start_pgbouncer(database_url: str) -> tuple[subprocess.Popen, str, Path]:
    info = conninfo_to_dict(database_url)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    dbname = info.get("dbname", "postgres")
    (folder / "users.txt").write_text(f'"{info.get("user") or "postgres"}" ""\n')
    (folder / "pgbouncer.ini").write_text(f"""[databases]
{dbname} = host={info.get("host") or "127.0.0.1"} port={info.get("port") or 5432} dbname={dbname}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
""")
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    argv = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        argv.insert(1, "--user=postgres")  # it refuses to run as root
        subprocess.run(["chown", "-R", "postgres", str(folder)], check=True)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"host=127.0.0.1 port={port} dbname={dbname} user={info.get('user') or 'postgres'}"
    deadline = time.monotonic() + 10
    while True:
        try:
            psycopg.connect(url, connect_timeout=1).close()
            return proc, url, folder
        except psycopg.OperationalError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)


def repeated(url: str, prepare_threshold: int | None) -> str:
    """Two clients, each running the same statements 20 times in their own transactions."""
    errors: list[str] = []

    def client(n: int) -> None:
        try:
            with psycopg.connect(url, prepare_threshold=prepare_threshold, autocommit=False) as conn:
                for i in range(20):
                    with conn.transaction():
                        conn.execute("SELECT %s::int + 1", (i,)).fetchone()
                        conn.execute("SELECT count(*) FROM pg_class WHERE relkind = %s", ("r",)).fetchone()
        except psycopg.Error as exc:
            errors.append(f"client {n}: {type(exc).__name__}: {str(exc).splitlines()[0]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return "ok" if not errors else "FAILS — " + errors[0]


def listen_notify(url: str) -> str:
    channel = "pgbouncer_check"
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as listener, \
            psycopg.connect(url, autocommit=True, prepare_threshold=None) as sender:
        listener.execute(f"LISTEN {channel}")
        sender.execute(f"NOTIFY {channel}, 'hello'")
        got = list(listener.notifies(timeout=2.0, stop_after=1))
    return "ok" if got else "FAILS — the notification never reached the listener"


def local_setting(url: str) -> str:
    with psycopg.connect(url, prepare_threshold=None) as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('statement_timeout', '1234', true)")
            inside = conn.execute("SHOW statement_timeout").fetchone()[0]
        after = conn.execute("SHOW statement_timeout").fetchone()[0]
    return "ok" if inside == "1234ms" and after != "1234ms" else f"FAILS — inside {inside}, after {after}"


def main() -> None:
    proc, url, folder = start_pgbouncer(os.environ["DATABASE_URL"])
    try:
        version = subprocess.run([shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", "--version"],
                                 capture_output=True, text=True).stdout.splitlines()[0]
        print(f"{version}, pool_mode=transaction, default_pool_size=1")
        print(f"1. repeated statements, psycopg's default (prepared from the 5th run): {repeated(url, 5)}")
        print(f"2. repeated statements, prepare_threshold=None:                         {repeated(url, None)}")
        print(f"3. LISTEN / NOTIFY through the pooler:                                 {listen_notify(url)}")
        print(f"4. a transaction-scoped setting (set_config(..., true)):               {local_setting(url)}")
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
