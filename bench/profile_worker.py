"""python -m bench.profile_worker [seconds]: py-spy profile of the two worker processes draining a
pre-filled inbox (the worker benchmark's load); writes bench-output/<run>/worker-<pid>.txt (top functions)."""

from __future__ import annotations

import subprocess
import sys
import time

from . import env as bench_env
from . import worker_throughput


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    extra = dict(arg.split("=", 1) for arg in sys.argv[2:])
    with bench_env.bench_world() as env:
        events, _ = worker_throughput.prepare(20_000, 100, 20)
        from . import fixtures

        fixtures.request_drain()
        worker = bench_env.start_worker({**env, **extra}, name="worker-profiled")
        time.sleep(2)
        spies = []
        for pid in bench_env.children(worker.pid):
            out = bench_env.OUTPUT / f"worker-{pid}.speedscope"
            spies.append((pid, subprocess.Popen(
                [str(bench_env.BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds),
                 "--format", "raw", "--output", str(out), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        for pid, spy in spies:
            spy.wait()
            print(bench_env.OUTPUT / f"worker-{pid}.speedscope")
        worker.stop()


if __name__ == "__main__":
    main()
