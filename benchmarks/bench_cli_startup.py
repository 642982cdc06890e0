"""Benchmark: whole-process start-up of the `featreg` command against the interpreter's floor.

Each command runs --repeats times as a fresh process (the installed `featreg` script); the
figure is the median wall time, beside the median of `python -c pass` (the floor no Python
command goes below) and of `python -c "import click"` (what any click program pays) measured
in the same run, interleaved so that a busy machine slows all alike. Also listed: which heavy
libraries each command loads (none is the goal for --version and --help).

Target (issue 15): `featreg --version` and `featreg --help` <= 0.3 s.

    .venv/bin/python benchmarks/bench_cli_startup.py [--repeats 15] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Figure, report  # noqa: E402

TARGET = 0.3
HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "pyarrow", "flask", "pydantic")
FEATREG = str(Path(sys.executable).parent / "featreg")
COMMANDS = {
    "featreg --version": [FEATREG, "--version"],
    "featreg --help": [FEATREG, "--help"],
    "featreg apply --help": [FEATREG, "apply", "--help"],
    "featreg snapshot correlate --help": [FEATREG, "snapshot", "correlate", "--help"],
}
FLOORS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import click'": [sys.executable, "-c", "import click"],
}
LOADED = ("import atexit, json, sys\n"
          "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
          "from registry.cli import main\nmain(sys.argv[1:])")


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def heavy_loaded(args: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True,
                          text=True, check=True)
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else args.repeats
    runs: dict[str, list[float]] = {name: [] for name in (*FLOORS, *COMMANDS)}
    for command in (*FLOORS.values(), *COMMANDS.values()):
        wall(command)  # warm the file cache
    for _ in range(repeats):
        for name, command in (*FLOORS.items(), *COMMANDS.items()):
            runs[name].append(wall(command))
    median = {name: statistics.median(times) for name, times in runs.items()}
    floor = median["python -c 'import click'"]
    figures = [Figure(name, median[name], baseline=median["python -c pass"],
                      baseline_name="python -c pass") for name in FLOORS]
    for name, command in COMMANDS.items():
        loaded = ", ".join(heavy_loaded(command[1:])) or "no heavy library"
        judged = name in ("featreg --version", "featreg --help")
        figures.append(Figure(name, median[name], baseline=floor, baseline_name="import click",
                              target=TARGET if judged else None, note=f"loads {loaded}"))
    report("bench_cli_startup.py", figures, repeats=repeats)
    for figure in figures[len(FLOORS):]:
        print(f"  {figure.name}: {figure.note}")
    sys.exit(0 if all(f.verdict != "MISS" for f in figures) else 1)


if __name__ == "__main__":
    main()
