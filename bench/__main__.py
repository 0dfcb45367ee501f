"""python -m bench [--quick] [name…]: run the benchmarks, print the table (and keep it under bench-output/)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

from . import env as bench_env
from .report import Figure, table, to_json

# name → module, in the order they run (the heaviest last)
BENCHMARKS = {
    "ingest": "ingest",  # first: the web alone on the machine, before any worker starts
    "refusals": "refusals",
    "rollup": "rollup_cost",
    "workers": "worker_throughput",
    "coalescing": "coalescing",
    "e2e": "end_to_end",
    "polling": "polling_sweep",
    # empty database ÷ a year of history (kept between runs: bench/history_fill.py); its first run fills it
    "history": "history",
    "queues": "queues",  # stops the shared worker: the Procfile's per-kind workers instead
    "footprint": "footprint",  # last: its cold worker after the shared one is stopped
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs: all of them in under two minutes")
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="name",
                        help=f"which ones (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--rebuild-history", action="store_true",
                        help="history: fill its kept database again even if its recorded shape matches")
    args = parser.parse_args(argv)
    if args.rebuild_history:
        os.environ["BENCH_HISTORY_REBUILD"] = "1"
    names = args.names or list(BENCHMARKS)
    figures: list[Figure] = []
    failed = []
    with bench_env.bench_world() as env:
        for name in names:
            module = importlib.import_module(f"{__package__}.{BENCHMARKS[name]}")
            if name == "footprint":
                # nothing else running beside the cold starts; --quick keeps the shared worker and
                # reports its start instead of a second one (each start imports the ADCP SDK: 12-18 s)
                bench_env.stop_all(keep_shared=args.quick)
            bench_env.reset_data()
            started = time.monotonic()
            print(f"── {name} …", flush=True)
            try:
                got = module.run(env, args.quick)
            except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
                traceback.print_exc()
                failed.append(name)
                got = [Figure(name, "benchmark crashed (see above)", None, check=">=", target=0)]
            finally:
                bench_env.stop_all(keep_shared=True)
            for figure in got:
                print(f"   {figure.name}: {figure.measured} {figure.unit} {figure.note}", flush=True)
            print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
            figures.extend(got)
    out = table(figures)
    print("\n" + out)
    bench_env.OUTPUT.mkdir(parents=True, exist_ok=True)
    (bench_env.OUTPUT / "results.md").write_text(out + "\n")
    (bench_env.OUTPUT / "results.json").write_text(to_json(figures))
    print(f"\n(also in {bench_env.OUTPUT.relative_to(bench_env.ROOT)}/results.md)")
    return 1 if failed or any(f.verdict == "FAIL" for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
