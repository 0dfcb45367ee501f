"""Simulated sales agents for tests: one `mediabuy-sync simulate-agent` process, several agents."""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import requests

from support.stack import Process, free_ports, wait_until

BIN = Path(sys.executable).parent

# Fast lifecycle, no random rejections or input-required: tests set faults per agent as they need.
FAST = {
    "timings": {"approval_delay_seconds": 0.3, "activation_delay_seconds": 0.2, "input_required_share": 0.0,
                "reject_share": 0.0, "delivery_interval_seconds": 0, "tick_seconds": 0.05},
    "faults": {"webhook_retry_base_seconds": 0.1, "webhook_timeout_seconds": 2.0},
}


def start_simulator(tmp_dir: Path, agents: dict[str, dict], name: str = "simulator") -> SimpleNamespace:
    """agents: {agent id: its settings ({"faults": …, "timings": …})}; returns the process and base URLs."""
    ports = dict(zip(agents, free_ports(len(agents))))
    proc = run_simulator(tmp_dir, {"seed": 3, "defaults": FAST, "agents": [
        {"id": a, "port": ports[a], **settings} for a, settings in agents.items()]}, name)
    base = {a: f"http://127.0.0.1:{p}" for a, p in ports.items()}
    return SimpleNamespace(proc=proc, base=base, mcp={a: f"{b}/mcp" for a, b in base.items()})


def run_simulator(tmp_dir: Path, config: dict, name: str) -> Process:
    """`mediabuy-sync simulate-agent` with this config (ports chosen by the caller), once it is ready."""
    path = tmp_dir / f"{name}.json"
    path.write_text(json.dumps(config))
    proc = Process(name, [str(BIN / "mediabuy-sync"), "simulate-agent", "--config", str(path)],
                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_until(lambda: "ready:" in proc.log() or proc.popen.poll() is not None, 120, 0.2, "the simulator")
    assert proc.popen.poll() is None, proc.log()[-3000:]
    return proc


def stats(sim, agent_id: str) -> dict:
    return requests.get(f"{sim.base[agent_id]}/_sim/stats", timeout=5).json()


def knobs(sim, agent_id: str, **values) -> None:
    requests.post(f"{sim.base[agent_id]}/_sim/knobs", json=values, timeout=5).raise_for_status()


def set_status_silently(sim, agent_id: str, adcp_media_buy_id: str, status: str) -> None:
    requests.post(f"{sim.base[agent_id]}/_sim/buys/{adcp_media_buy_id}/status", json={"status": status},
                  timeout=5).raise_for_status()


def create_request(webhook_url: str | None, operation_id: str, auth: dict | None, end_in: float = 3600) -> dict:
    """A create_media_buy request as a buyer sends it."""
    request = {
        "idempotency_key": str(uuid.uuid4()),
        "account": {"account_id": "acc_tests"},
        "brand": {"domain": "acme.example"},
        "start_time": "asap",
        "end_time": (datetime.now(timezone.utc) + timedelta(seconds=end_in)).isoformat().replace("+00:00", "Z"),
        "packages": [{"product_id": "display_ros", "pricing_option_id": "cpm_fixed", "budget": 5000}],
    }
    if webhook_url:
        request["push_notification_config"] = {"url": webhook_url, "operation_id": operation_id,
                                               **({"authentication": auth} if auth else {})}
    return request
