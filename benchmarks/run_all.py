"""Run every benchmark, one after the other, each in its own process (`make bench`).

Each script prints its own figures, targets and ratios against baselines measured in the same
process. `--quick` passes small sizes so the whole set finishes in a few minutes (a smoke run,
not the figures the targets are about).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("bench_catalog.py", ["--features", "1000", "--edges", "3000"]),
    ("bench_correlation.py", ["--rows", "10000", "--cols", "100", "--big-cols", "0"]),
    ("bench_usage.py", ["--events", "200000"]),
    ("bench_analyze.py", ["--features", "150", "--consumers", "20", "--rows", "3000",
                          "--usage", "7500"]),
    ("bench_web.py", ["--features", "2000"]),
    ("bench_stability.py", ["--rows", "100000", "--features", "300", "--snapshots", "10"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("names", nargs="*", help="only these scripts (e.g. bench_usage.py)")
    args = parser.parse_args()
    failed = []
    for script, quick_args in BENCHMARKS:
        if args.names and script not in args.names:
            continue
        command = [sys.executable, str(HERE / script), *(quick_args if args.quick else [])]
        print(f"\n=== {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(script)
        print(f"=== {script}: {time.perf_counter() - start:.0f} s", flush=True)
    if failed:
        print(f"\nmissed a target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
