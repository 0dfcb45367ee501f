"""RabbitMQ for the tests that run our processes on it (MEDIABUY_BROKER_URL): a vhost of the test
run's own, as the Redis namespace is its own, so that concurrent runs on one RabbitMQ never meet.

RabbitMQ is found or started by mediabuy_sync.devtools.rabbitmq; when it can be neither, the fixture
fails with that message — no silent skip.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from contextlib import contextmanager

from mediabuy_sync.devtools import rabbitmq


@contextmanager
def vhost(label: str):
    """(broker URL, vhost name) of a new vhost; deleted, with all its queues, at the end."""
    base = rabbitmq.rabbitmq_server()
    name = f"mbtest-{os.environ.get('MEDIABUY_TEST_RUN', 'adhoc')}-{label}-{secrets.token_hex(2)}"
    url = rabbitmq.create_vhost(base, name)
    try:
        yield url, name
    finally:
        rabbitmq.delete_vhost(name)


def list_queues(vhost_name: str) -> dict[str, dict[str, str]]:
    """{queue: {type, durable, messages}} as RabbitMQ itself reports them (rabbitmqctl)."""
    out = subprocess.run(["rabbitmqctl", "list_queues", "-q", "--formatter", "json", "-p", vhost_name,
                          "name", "type", "durable", "messages"], capture_output=True, text=True, timeout=60, check=True)
    return {row["name"]: row for row in json.loads(out.stdout or "[]")}
