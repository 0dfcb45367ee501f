"""devtools: find or start RabbitMQ for the tests and benchmarks that run Celery on it, and a vhost per run.

RABBITMQ_URL when set (amqp://user:password@host:port, its vhost ignored); else the server on
127.0.0.1:5672 (guest/guest) when it answers; else a local `rabbitmq-server` (Debian's package) started
detached and left running, as the embedded Redis is. Failing all of that: an error that says so — a
test that needs RabbitMQ must not pass without it.

Each test run or benchmark gets a vhost of its own, as it gets a Redis namespace: several runs share
one RabbitMQ, and Celery's delayed-delivery exchanges have fixed names (queue/rabbit.py). Vhosts are
made with `rabbitmqctl`, which needs the broker's machine and its Erlang cookie (root or the rabbitmq
user).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from urllib.parse import quote, urlparse

LOCAL_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")  # the protocol header: a broker answers Connection.Start
            return len(sock.recv(8)) > 0
    except OSError:
        return False


def rabbitmq_server() -> str:
    """The base URL (no vhost) of a RabbitMQ that answers, started here if need be."""
    base = os.environ.get("RABBITMQ_URL") or LOCAL_RABBITMQ
    url = urlparse(base)
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    if _answers(host, port):
        return url._replace(path="").geturl()
    server = shutil.which("rabbitmq-server") or shutil.which("rabbitmq-server", path="/usr/sbin:/usr/lib/rabbitmq/bin")
    if url.hostname not in ("127.0.0.1", "localhost") or server is None:
        raise RuntimeError(f"RabbitMQ does not answer at {host}:{port} and cannot be started here "
                           "(install Debian's rabbitmq-server, or set RABBITMQ_URL to one that runs)")
    subprocess.run([server, "-detached"], check=False, capture_output=True, timeout=60)
    deadline = time.monotonic() + 90  # an Erlang node's first start takes a while
    while time.monotonic() < deadline:
        if _answers(host, port):
            return url._replace(path="").geturl()
        time.sleep(0.5)
    raise RuntimeError(f"rabbitmq-server was started but does not answer at {host}:{port} after 90 s "
                       "(see /var/log/rabbitmq/)")


def _ctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/usr/lib/rabbitmq/bin")
    if ctl is None:
        raise RuntimeError("rabbitmqctl not found: a vhost per run needs it (Debian's rabbitmq-server package)")
    done = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def create_vhost(base_url: str, vhost: str) -> str:
    """A new vhost that the URL's user may use fully; returns the broker URL for it."""
    user = urlparse(base_url).username or "guest"
    _ctl("add_vhost", vhost)
    _ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return f"{base_url.rstrip('/')}/{quote(vhost, safe='')}"


def delete_vhost(vhost: str) -> None:
    """The vhost and every queue and exchange in it."""
    _ctl("delete_vhost", vhost)


__all__ = ["create_vhost", "delete_vhost", "rabbitmq_server"]
