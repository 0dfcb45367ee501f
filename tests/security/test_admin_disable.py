"""Disabling an agent (issue 17 point 6) is at once in every web process, as a revocation is: two
gunicorns that keep the agent's credentials both refuse its webhooks from the admin API's answer on,
and accept them again once the CLI (a process of its own) enables it; both changes audited with their actor."""

from __future__ import annotations

import getpass
import json
import os
import subprocess

import pytest
import requests

from support.stack import BIN, start_web
from support.webhooks import Sender, task_payload

ADMIN = {"Authorization": f"Bearer {os.environ['MEDIABUY_ADMIN_TOKEN']}"}


@pytest.fixture(scope="module")
def two_webs(stack):
    """Two web processes (one gunicorn worker each) on the same database."""
    started = [start_web({**stack["env"], "MEDIABUY_WEB_WORKERS": "1"}, name=f"web-disable-{n}") for n in (1, 2)]
    yield [base for _, base in started]
    for proc, _ in started:
        proc.stop()


def cli(*args: str) -> dict:
    run = subprocess.run([str(BIN / "mediabuy-sync"), *args], capture_output=True, text=True, timeout=60, env=os.environ)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_a_disable_is_at_once_in_every_web_process_and_audited(two_webs):
    added = cli("agents", "add", "--id", "agent_dis" + os.urandom(3).hex(), "--endpoint", "http://127.0.0.1:9/mcp")
    senders = [Sender(base, added["agent_id"], "hmac-sha256", added["secret"]) for base in two_webs]
    for sender in senders:  # each process now keeps the agent's credentials
        assert sender.post(task_payload("sa_x", "active")).status_code == 202

    answer = requests.post(f"{two_webs[1]}/admin/agents/{added['agent_id']}/disable", headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text

    for sender in senders:
        assert sender.post(task_payload("sa_x", "active")).status_code == 404
    assert cli("agents", "enable", added["agent_id"])["disabled"] is False
    for sender in senders:
        assert sender.post(task_payload("sa_x", "active")).status_code == 202

    entries = requests.get(f"{two_webs[0]}/admin/audit", params={"target": f"agent:{added['agent_id']}"},
                           headers=ADMIN, timeout=10).json()["data"]["entries"]
    user = f"cli:{getpass.getuser()}"
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("agent.enable", user), ("agent.disable", entries[1]["actor"]), ("agent.register", user)]
    assert entries[1]["actor"].startswith("admin-token:") and added["secret"] not in json.dumps(entries)
