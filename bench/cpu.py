"""CPU time by program over a stretch of a benchmark: which process saturates first (docs/scaling.md).
Read from /proc: every process's utime + stime, grouped by its command name."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _group(pid: str) -> str:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    words = " ".join(w.decode(errors="replace") for w in cmdline[:6])
    if "celery" in words and b"--queues" in cmdline:  # a worker of one kind (Procfile worker-ingest, …)
        return "celery " + cmdline[cmdline.index(b"--queues") + 1].decode(errors="replace")
    for name in ("gunicorn", "celery", "postgres", "redis-server", "wrk", "py-spy"):
        if name in words:
            return name
    if "simulate-agent" in words:
        return "simulated agents"
    if "bench" in words:
        return "bench (load generator)"
    return Path(f"/proc/{pid}/comm").read_text().strip()


def snapshot(system_only: bool = False) -> dict[str, tuple[str, int]]:
    """{pid: (group, CPU ticks so far)} of every live process (`system_only`: kernel time only)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (_group(pid), (0 if system_only else int(fields[11])) + int(fields[12]))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return out


def others_apart(snap: dict[str, tuple[str, int]], root: int | None = None) -> dict[str, tuple[str, int]]:
    """The same snapshot with the programs of other sessions on a shared machine (not descendants of
    `root`, this process by default) grouped apart, as "other sessions"; PostgreSQL and Redis serve
    everyone and keep their names."""
    root = os.getpid() if root is None else root
    parent = {}
    for pid in snap:
        try:
            parent[pid] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            parent[pid] = 0

    def ours(pid: str) -> bool:
        seen = 0
        while pid in parent and seen < 64:
            if int(pid) == root:
                return True
            pid, seen = str(parent[pid]), seen + 1
        return int(pid) == root

    shared = ("postgres", "redis-server")
    return {pid: (group if group in shared or ours(pid) else "other sessions", ticks)
            for pid, (group, ticks) in snap.items()}


def cores_by_group(before: dict, after: dict, wall: float) -> dict[str, float]:
    """Cores used per group between two snapshots (processes that started meanwhile counted whole)."""
    used: Counter = Counter()
    for pid, (group, ticks) in after.items():
        used[group] += ticks - before.get(pid, (group, 0))[1]
    return {group: ticks / TICKS / wall for group, ticks in used.most_common() if ticks > 0}


def summary(used: dict[str, float]) -> str:
    """'postgres 0.30, celery 1.20, …' of the programs that used a hundredth of a core or more."""
    return ", ".join(f"{group} {cores:.2f}" for group, cores in used.items() if cores >= 0.01)


def context_switches(pids: list[int]) -> tuple[int, int]:
    """(voluntary, involuntary) context switches so far of these processes' threads: a thread that
    blocks (a round trip, a lock, waking another thread) switches voluntarily; one preempted, not."""
    voluntary = involuntary = 0
    for pid in pids:
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches"):
                        voluntary += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        involuntary += int(line.split()[1])
            except OSError:  # a thread that ended meanwhile
                pass
    return voluntary, involuntary


def scheduled(pids: list[int]) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) so far of these processes' threads
    (/proc/<pid>/task/*/schedstat): the second is what a saturated machine adds to their latency."""
    on_cpu = waiting = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                ran, waited, _ = stat.read_text().split()
            except (OSError, ValueError):  # a thread that ended meanwhile
                continue
            on_cpu, waiting = on_cpu + int(ran), waiting + int(waited)
    return on_cpu / 1e9, waiting / 1e9
