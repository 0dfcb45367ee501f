"""Cheap refusals (issue 20 point 5): a good agent's accepted webhooks per second, paced open-loop at a
fixed rate, alone and then beside a flood of bad-signature webhooks (registered agents, a wrong HMAC
secret: 401 webhook_signature_invalid) sent by wrk as fast as it can, straight at gunicorn (no front:
the app's own cost of a refusal). The target: the flood does not cut the good agent's accepted/s by
more than 20 %. The flood's rate is what wrk reached on this machine (the issue's 5,000/s is more
than two shared cores answer: the figure says what was offered and answered).

A refusal costs no database round trip in the common case: the agent's credentials are kept in the
process (services/agent_credentials.py, invalidated by NOTIFY), and a bad HMAC reads them again at
most once a second per agent."""

from __future__ import annotations

import re
import secrets
import subprocess
import time

from . import env as bench_env
from . import fixtures, load
from .report import Figure, percentile

NAME = "refusals"
GOOD_RATE = 300.0  # webhooks/s of the good agent: a busy seller, well under the web's capacity here


def _bad(agents: dict[str, str], buys: list[tuple[str, str]], count: int) -> list[load.Signed]:
    """Webhooks of registered agents signed with a secret that is not theirs."""
    wrong = {agent_id: secrets.token_hex(32) for agent_id in agents}
    return load.presign(wrong, buys, count, first_second=5_000_000)


def run(env: dict, quick: bool) -> list[Figure]:
    seconds = 5 if quick else 15
    agents = fixtures.make_agents(20, prefix="ragent")
    agent_ids = list(agents)
    fixtures.make_campaigns(10, 20, agent_ids)
    buys = [(fixtures.agent_of(c, k, 20, agent_ids), fixtures.buy_of(c, k)[1]) for c in range(10) for k in range(20)]
    good_agent = agent_ids[0]
    good_buys = [b for b in buys if b[0] == good_agent]
    # the per-agent limit (200/s per process by default) out of the way: what is measured is capacity
    web, base = bench_env.start_web({**env, "MEDIABUY_WEBHOOK_RATE_PER_AGENT": "5000",
                                     "MEDIABUY_WEBHOOK_BURST_PER_AGENT": "5000"}, ready_path="/readyz")
    load.pace(base, load.presign(agents, good_buys, 200, first_second=1_000_000), 100)  # warm

    alone = load.pace(base, load.presign(agents, good_buys, int(GOOD_RATE * seconds), first_second=10), GOOD_RATE)

    bad = _bad(agents, buys, 50_000)
    script, data = load.write_wrk_inputs(bad, "refusals-bad")
    argv = ["wrk", "-t2", "-c32", f"-d{seconds + 4:.0f}s", "-s", str(script), base, "--", str(data), "2"]
    flood = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2)  # the flood at full speed before the good agent starts
    beside = load.pace(base, load.presign(agents, good_buys, int(GOOD_RATE * seconds), first_second=100_000), GOOD_RATE)
    out, _ = flood.communicate(timeout=seconds + 60)
    web.stop()
    (bench_env.OUTPUT / "wrk-refusals.txt").write_text(out)
    flood_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def accepted(paced: load.Paced) -> float:
        return sum(n for status, n in paced.statuses.items() if 200 <= status < 300) / (paced.sent / paced.achieved_rate)

    a, b = accepted(alone), accepted(beside)
    return [
        Figure(NAME, f"good agent accepted/s alone (paced at {GOOD_RATE:.0f}/s, {seconds} s)", a, "/s",
               note=f"p99 {percentile(alone.latencies_ms, 99):.1f} ms, statuses {alone.statuses}"),
        Figure(NAME, "bad-signature webhooks refused/s beside it (wrk -t2 -c32, full speed)", flood_rate, "/s",
               note="401 webhook_signature_invalid from registered agents' ids, a wrong secret"),
        Figure(NAME, "good agent accepted/s beside the flood", b, "/s",
               note=f"p99 {percentile(beside.latencies_ms, 99):.1f} ms, statuses {beside.statuses}"),
        Figure(NAME, "good accepted/s beside ÷ alone", b / a if a else None, "×", 0.8, ">="),
    ]
