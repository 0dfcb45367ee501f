"""6. Polling sweep: 100,000 non-terminal buys over 200 agents, all due, each agent answering
get_media_buys after 50 ms (bench/fake_agents.py: the SDK's own seller framework behind one port,
/agents/<id>/mcp per agent, so our client takes its real MCP path), 100 buys a page. Beat sweeps
every second as the Procfile runs it; a worker of two processes polls. A full sweep is from beat's
start until every buy has been answered; agent calls must equal the pages."""

from __future__ import annotations

import time

import requests

from . import env as bench_env
from . import cpu, fixtures
from .report import Figure

NAME = "polling"


def run(env: dict, quick: bool) -> list[Figure]:
    n_agents, n_buys = (20, 4_000) if quick else (200, 100_000)
    port = bench_env.free_port()
    fake = bench_env.start_python("fake-agents", ["bench.fake_agents", "--port", str(port), "--delay", "0.05"],
                                  env, "fake agents listening")
    base = f"http://127.0.0.1:{port}"
    agent_ids = list(fixtures.make_agents(n_agents, endpoint=base + "/agents/{agent}/mcp", prefix="pagent"))
    per_campaign = 100
    fixtures.make_campaigns(n_buys // per_campaign, per_campaign, agent_ids, poll_due_in=-1)
    per_agent = n_buys // n_agents
    pages = n_agents * -(-per_agent // 100)
    bench_env.shared_worker(env)
    started, cpu_before, cpu_started = time.time(), cpu.snapshot(), time.monotonic()
    beat = bench_env.start_beat(env)

    def stats() -> dict:
        return requests.get(base + "/_stats", timeout=5).json()

    try:
        bench_env.wait_until(lambda: stats()["buys"] >= n_buys, 900, 1.0, what="polling: every buy answered")
    finally:
        cores = cpu.summary(cpu.cores_by_group(cpu_before, cpu.snapshot(), time.monotonic() - cpu_started))
        beat.stop()
        final = stats()
        fake.stop()
    took = final["last"] - started
    return [
        Figure(NAME, f"full sweep, {n_buys:,} buys over {n_agents} agents (50 ms each)", took, "s", 60, "<=",
               f"first answer after {final['first'] - started:.1f} s (a worker's first call to each agent "
               f"opens an MCP session); cores used: {cores} (the fake agents: bench)"),
        Figure(NAME, "agent calls ÷ pages", final["calls"] / pages, "×", 1.0, "<=",
               f"{final['calls']:,} get_media_buys calls for {pages:,} pages; {final['buys']:,} buys answered"),
    ]
