"""Issue 19: what a real container engine showed, checked without one (./dev containers-test runs the real thing).

- the demo (`--stay`) ends with exit 0 on SIGTERM at any step, instead of waiting to be killed;
- the simulated agents end at once on SIGTERM while they load the SDK (the import blocks their event loop);
- both images run their process under tini, as user and group 10001 with the group created, and ship the
  package from a build stage (no source tree copied into the image proper).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stop_after(code: str, ready: str, timeout: float = 20) -> tuple[int, float]:
    """Run `code` in a fresh interpreter, SIGTERM it once it printed `ready`; its exit code and how long it took."""
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == ready
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout), time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_demo_exits_0_on_sigterm_while_it_waits():
    code = ("from mediabuy_sync.devtools import demo\n"
            "demo.exit_on_stop()\n"
            "print('ready', flush=True)\n"
            "import signal\n"
            "while True: signal.pause()\n")
    returncode, took = _stop_after(code, "ready")
    assert returncode == 0
    assert took < 2


def test_the_demo_exits_0_on_sigterm_in_the_middle_of_a_step():
    code = ("from mediabuy_sync.devtools import demo\n"
            "demo.exit_on_stop()\n"
            "print('ready', flush=True)\n"
            "import time\n"
            "time.sleep(60)\n")
    returncode, took = _stop_after(code, "ready")
    assert returncode == 0
    assert took < 2


def test_the_simulated_agents_stop_at_once_while_loading():
    """The handler run_agents' loop installs before the slow SDK import: a stop then ends the process (exit 0)."""
    code = ("import signal, time\n"
            "from mediabuy_sync.sim import server\n"
            "signal.signal(signal.SIGTERM, server._stop_while_loading)\n"
            "print('ready', flush=True)\n"
            "end = time.monotonic() + 60\n"
            "while time.monotonic() < end: sum(range(10000))  # busy, as an import is\n")
    returncode, took = _stop_after(code, "ready")
    assert returncode == 0
    assert took < 2


def _final_stage(name: str) -> list[tuple[str, str]]:
    """The instructions of a Dockerfile's last stage, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (ROOT / name).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    last_from = max(i for i, (k, _) in enumerate(instructions) if k == "FROM")
    return instructions[last_from:]


def test_each_image_runs_under_tini_as_10001_in_an_existing_group_with_no_source_copy():
    for name in ("web.Dockerfile", "worker.Dockerfile"):
        stage = _final_stage(name)
        entrypoints = [json.loads(a) for k, a in stage if k == "ENTRYPOINT"]
        assert entrypoints and entrypoints[-1][:2] == ["/usr/bin/tini", "--"], name
        runs = " ".join(a for k, a in stage if k == "RUN")
        assert "tini" in runs and "groupadd --gid 10001 app" in runs and "--uid 10001 --gid 10001" in runs, name
        assert [a for k, a in stage if k == "USER"] == ["10001:10001"], name
        copies = [a for k, a in stage if k in ("COPY", "ADD")]
        assert copies and all(a.startswith("--from=build ") for a in copies), (name, copies)
        assert "pip install" not in runs, name  # installed in the build stage only: no caches or build folder here
