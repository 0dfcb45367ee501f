"""Load generation for the web benchmarks: pre-signed unique webhooks, wrk at full speed (a Lua
script cycling through them), and an open-loop pacer for latency at a fixed rate."""

from __future__ import annotations

import asyncio
import gc
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import env as bench_env
from . import fixtures

WRK_SCRIPT = r"""
-- Each wrk thread sends its own slice of the pre-signed requests (thread i: requests i, i+T, …),
-- so every request is a distinct idempotency key; a thread that runs out starts its slice again.
local threads_started = 0
function setup(thread)
  thread:set("tid", threads_started)
  threads_started = threads_started + 1
end
function init(args)
  local nthreads = tonumber(args[2])
  local reqs = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local path, ts, sig, body = line:match("^(%S+)\t(%S+)\t(%S+)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json", ["X-AdCP-Timestamp"] = ts, ["X-AdCP-Signature"] = sig}, body)
    end
    i = i + 1
  end
  requests_ = reqs
  n_ = 0
end
function request()
  n_ = n_ + 1
  return requests_[(n_ - 1) % #requests_ + 1]
end
"""


@dataclass
class Signed:
    path: str
    headers: dict[str, str]
    body: bytes


def presign(agents: dict[str, str], buys: list[tuple[str, str]], count: int, first_second: int = 10) -> list[Signed]:
    """`count` webhooks, each a distinct idempotency key, signed now (valid for the ±300 s window).
    `buys` is [(agent id, the agent's media-buy id)]; each webhook toggles one of them."""
    now = int(time.time())
    out = []
    for j in range(count):
        agent_id, adcp_id = buys[j % len(buys)]
        body = fixtures.status_webhook(adcp_id, "paused" if (j // len(buys)) % 2 == 0 else "active", first_second + j)
        out.append(Signed(f"/webhooks/adcp/{agent_id}", fixtures.signed(agents[agent_id], body, now), body))
    return out


def write_wrk_inputs(requests: list[Signed], name: str) -> tuple[Path, Path]:
    bench_env.OUTPUT.mkdir(parents=True, exist_ok=True)
    data = bench_env.OUTPUT / f"{name}.tsv"
    with data.open("w") as f:
        for r in requests:
            f.write(f"{r.path}\t{r.headers['X-AdCP-Timestamp']}\t{r.headers['X-AdCP-Signature']}\t{r.body.decode()}\n")
    script = bench_env.OUTPUT / "presigned.lua"
    script.write_text(WRK_SCRIPT)
    return script, data


@dataclass
class WrkResult:
    requests: int
    rate: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int  # socket errors + non-2xx answers
    cpu_share: float  # wrk's own CPU time ÷ wall time (1.0 = one core busy)
    output: str


def wrk(base: str, script: Path, data: Path, seconds: float, threads: int = 2, connections: int = 16) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", str(script),
            base, "--", str(data), str(threads)]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cpu = 0.0
    ticks = _clock_ticks()
    while proc.poll() is None:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        except (FileNotFoundError, IndexError):
            pass
        time.sleep(0.2)
    wall = time.monotonic() - started
    out = proc.stdout.read()
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(total, rate, _latency(out, "50%"), _latency(out, "99%"),
                     errors + (int(non2xx.group(1)) if non2xx else 0), cpu / wall, out)


def _clock_ticks() -> int:
    import os

    return os.sysconf("SC_CLK_TCK")


def _latency(out: str, pct: str) -> float | None:
    m = re.search(rf"^\s*{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


@dataclass
class Paced:
    sent: int
    statuses: dict[int, int]
    latencies_ms: list[float]  # from each request's scheduled time (queueing included) to its answer
    answered_at: list[tuple[int, float]]  # (index, wall-clock time of the 2xx)
    achieved_rate: float


def pace(base: str, requests: list[Signed], rate: float, connections: int = 32) -> Paced:
    """Open loop: request i is due at t0 + i / rate whatever happened to the others; latency is counted
    from when it was due, so a server falling behind shows up as latency (no coordinated omission)."""
    # The generator's own garbage collections are not the server's latency: with ~30,000 requests'
    # tasks and answers alive, two full collections paused it 64-72 ms each in a 30 s run at 900/s
    # (gc.callbacks), and every request due meanwhile counted the pause. Collected up front, frozen,
    # and none during the run (a minute's garbage of one process).
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return asyncio.run(_pace(base, requests, rate, connections))
    finally:
        gc.enable()
        gc.unfreeze()


async def _pace(base: str, requests: list[Signed], rate: float, connections: int) -> Paced:
    host, port = base.removeprefix("http://").split(":")
    idle: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection(host, int(port)))
    latencies, statuses, answered = [], {}, []
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05

    async def one(i: int, r: Signed) -> None:
        due = t0 + i / rate
        reader, writer = await idle.get()
        head = (f"POST {r.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(r.body)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in r.headers.items()) + "\r\n").encode()
        writer.write(head + r.body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        done = loop.time()
        status = int(status_line.split()[1])
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append((done - due) * 1000)
        if 200 <= status < 300:
            answered.append((i, time.time()))
        idle.put_nowait((reader, writer))

    tasks = []
    for i, r in enumerate(requests):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, r)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - t0
    while not idle.empty():
        _, writer = idle.get_nowait()
        writer.close()
    return Paced(len(requests), statuses, latencies, answered, len(requests) / elapsed)
