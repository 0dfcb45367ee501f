"""python -m bench.profile_web [seconds] [--cpu] [--gil] [--bare] [--idle] [--connections=16] [VAR=value …]: py-spy profile of the web's gunicorn workers under the ingest
benchmark's load (wrk, pre-signed unique webhooks); writes bench-output/<run>/web-<pid>.txt (raw
stacks, for `py-spy`'s flame tools or a grep) and prints the accepted rate, gunicorn's context switches
per request and the cores each program used (--cpu: no py-spy, CPU only; --gil: sample only the thread holding the GIL, i.e. Python's CPU time; --idle: waiting threads too)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from . import env as bench_env
from . import cpu, fixtures, load


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10
    with bench_env.bench_world() as env:
        agents = fixtures.make_agents(20, prefix="pagent")
        agent_ids = list(agents)
        fixtures.make_campaigns(100, 20, agent_ids)
        buys = [(fixtures.agent_of(c, k, 20, agent_ids), fixtures.buy_of(c, k)[1]) for c in range(100) for k in range(20)]
        bare = "--bare" in sys.argv  # the benchmark's bare Flask route instead of ours
        extra = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg and not arg.startswith("--"))  # e.g. MEDIABUY_WEB_THREADS=2
        connections = next((int(arg.split("=", 1)[1]) for arg in sys.argv[1:] if arg.startswith("--connections=")), 16)
        web, base = bench_env.start_web({**env, **extra}, ready_path="/healthz" if bare else "/readyz",
                                        app="bench.bare_app:create_app()" if bare else None)
        script, data = load.write_wrk_inputs(load.presign(agents, buys, 3_000 * seconds), "profile")
        load.pace(base, load.presign(agents, buys, 200, first_second=1_000_000), 100)  # warm
        spies = []
        for pid in (bench_env.children(web.pid) if "--cpu" not in sys.argv else []):
            out = bench_env.OUTPUT / f"web-{pid}.txt"
            spies.append((out, subprocess.Popen(
                [str(bench_env.BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds),
                 "--format", "raw", "--output", str(out), "--nonblocking",
                 *(["--gil"] if "--gil" in sys.argv else []), *(["--idle"] if "--idle" in sys.argv else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        result: list = []
        runner = threading.Thread(target=lambda: result.append(load.wrk(base, script, data, seconds, connections=connections)))
        before, before_sys, started = cpu.snapshot(), cpu.snapshot(system_only=True), time.monotonic()
        gunicorn = [web.pid, *bench_env.children(web.pid)]
        switches_before = cpu.context_switches(gunicorn)
        runner.start()
        runner.join()
        wall = time.monotonic() - started
        switches = [after - before for after, before in zip(cpu.context_switches(gunicorn), switches_before)]
        after = cpu.snapshot()
        used = cpu.cores_by_group(before, after, wall)
        kernel = cpu.cores_by_group(before_sys, cpu.snapshot(system_only=True), wall)
        print("gunicorn processes' cores: " + ", ".join(
            f"{pid} {(after[str(pid)][1] - before[str(pid)][1]) / cpu.TICKS / wall:.2f}"
            for pid in gunicorn if str(pid) in after and str(pid) in before))
        print("cores used (of which in the kernel): " + ", ".join(
            f"{group} {cores:.2f} ({kernel.get(group, 0):.2f})" for group, cores in used.items() if cores >= 0.01))
        for out, spy in spies:
            spy.wait()
            print(out)
        requests = result[0].rate * seconds
        print(f"wrk: {result[0].rate:.0f} requests/s; gunicorn's context switches per request: "
              f"{switches[0] / requests:.1f} voluntary, {switches[1] / requests:.1f} involuntary")
        web.stop()


if __name__ == "__main__":
    main()
