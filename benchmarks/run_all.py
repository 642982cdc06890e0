"""Run the whole benchmark suite (`make bench`), each script in its own process.

Every `benchmarks/bench_*.py` found is run (and `load_test.py`), one after the other. Each
prints its figures beside baselines measured in the same run; scripts that use
`benchlib.report` also hand their figures to this runner, which prints one table at the end
and writes them all to a JSON file (default `benchmarks/results/bench-<UTC time>.json`).

`--quick` is a smoke run: small sizes so the whole suite finishes in minutes. A script that
accepts `--quick` itself gets it; the others get the small sizes listed in QUICK_ARGS; one
with neither is skipped in a quick run (named in the output). A script that fails or misses a
target is listed at the end and makes the exit status 1; a missing one is simply not run.

    .venv/bin/python benchmarks/run_all.py [--quick] [--out FILE] [--list] [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import RESULTS_ENV, table

HERE = Path(__file__).resolve().parent
FIRST = ["bench_scale.py", "bench_catalog.py", "bench_usage.py", "bench_analyze.py"]
EXTRA = ["load_test.py"]  # run by the suite although not named bench_*
# small sizes for scripts that do not take --quick themselves
QUICK_ARGS: dict[str, list[str]] = {
    "bench_catalog.py": ["--features", "1000", "--edges", "3000"],
    "bench_correlation.py": ["--rows", "10000", "--cols", "100", "--big-cols", "0"],
    "bench_usage.py": ["--events", "200000"],
    "bench_analyze.py": ["--features", "150", "--consumers", "20", "--rows", "3000",
                         "--usage", "7500"],
    "bench_web.py": ["--features", "2000", "--requests", "100"],
    "bench_stability.py": ["--rows", "100000", "--features", "300", "--snapshots", "10"],
    "bench_search_writes.py": ["--features", "2000", "--seconds", "5"],
    "load_test.py": ["--duration", "10", "--rate", "50", "--features", "1000"],
}


def discover() -> list[str]:
    """The scripts of the suite, the core ones first, then the rest by name."""
    found = sorted(p.name for p in HERE.glob("bench_*.py")) + [
        name for name in EXTRA if (HERE / name).exists()]
    return [n for n in FIRST if n in found] + [n for n in found if n not in FIRST]


def takes_quick(script: str) -> bool:
    return '"--quick"' in (HERE / script).read_text(encoding="utf-8")


def command_for(script: str, quick: bool) -> list[str] | None:
    base = [sys.executable, str(HERE / script)]
    if not quick:
        return base
    if takes_quick(script):
        return [*base, "--quick"]
    if script in QUICK_ARGS:
        return [*base, *QUICK_ARGS[script]]
    return None


def run_script(command: list[str], results: Path) -> tuple[int, float, list[dict[str, Any]]]:
    """Run one script; returns its exit status, seconds and the figures it reported."""
    before = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
    start = time.perf_counter()
    env = {**os.environ, RESULTS_ENV: str(results)}
    status = subprocess.run(command, check=False, env=env, cwd=HERE.parent).returncode
    seconds = time.perf_counter() - start
    lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
    records = [json.loads(line) for line in lines[len(before):]]
    figures = [figure | {"script": record["script"]} for record in records
               for figure in record["figures"]]
    return status, seconds, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--out", type=Path, help="JSON file to write (default: "
                        "benchmarks/results/bench-<time>.json)")
    parser.add_argument("--list", action="store_true", help="list the scripts and exit")
    parser.add_argument("names", nargs="*", help="only these scripts (e.g. bench_usage.py)")
    args = parser.parse_args()
    scripts = [s for s in discover() if not args.names or s in args.names]
    if args.list:
        for script in scripts:
            command = command_for(script, args.quick)
            print(script, " ".join(command[2:]) if command else "(skipped in --quick)")
        return 0
    missing = [n for n in args.names if n not in scripts]
    if missing:
        print(f"not found, not run: {', '.join(missing)}")
    started = datetime.now(UTC)
    runs: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="featreg-bench-") as tmp:
        results = Path(tmp) / "figures.jsonl"
        for script in scripts:
            command = command_for(script, args.quick)
            if command is None:
                print(f"\n=== {script}: skipped in --quick (no small sizes known)", flush=True)
                runs.append({"script": script, "status": "skipped"})
                continue
            print(f"\n=== {' '.join(Path(c).name for c in command[1:])}", flush=True)
            status, seconds, reported = run_script(command, results)
            print(f"=== {script}: {seconds:.0f} s, exit status {status}", flush=True)
            runs.append({"script": script, "args": command[2:], "exit_status": status,
                         "seconds": round(seconds, 1)})
            figures += reported
    failed = [r["script"] for r in runs if r.get("exit_status")]
    missed = sorted({f["script"] for f in figures if f.get("verdict") == "MISS"})
    if figures:
        print("\nAll figures (each beside its baseline, measured in the same run)")
        print(table(figures, script_column=True))
    out = args.out or HERE / "results" / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "started": started.isoformat(), "quick": args.quick, "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_end": os.getloadavg()[0]},
        "runs": runs, "figures": figures}, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    if failed:
        print(f"failed (non-zero exit): {', '.join(failed)}")
    if missed:
        print(f"missed a target: {', '.join(missed)}")
    return 1 if failed or missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
