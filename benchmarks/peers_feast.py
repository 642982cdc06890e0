"""Benchmark against the peer: Feast (its own virtualenv, local file registry) and Featreg side
by side, on the same catalog, as their users run them.

For each N (default 10, 50, 200, 500) feature views of 20 features each: a Feast repository
(feature_store.yaml with the file registry and the SQLite online store, one Python file with
one FileSource and one FeatureView per view) and the equivalent Featreg YAML (one source and
20 features per view, one team). Whole processes, timed from outside:

* plan (`feast plan` / `featreg plan`) of the new catalog;
* apply of the new catalog;
* no-op apply (the same files again);
* one-change apply (one feature's description edited).

Read latency in-process, median of --repeats warm calls after one call to warm up: Feast's
`FeatureStore.get_feature_view` and `list_feature_views` (its registry cache) against Featreg's
`Client.get` of one feature and `Client.list` of every feature.

Each plan/apply step is timed as wall time and as CPU time (user + system of the process, which
a busy machine inflates much less); both ratios are printed, the verdict is on wall time. The
whole sequence runs --rounds times (default 3, each from fresh repositories, Feast's and
Featreg's runs of a step alternating); the table shows each step's median, the JSON every run.
Featreg's package is byte-compiled first, as installing its wheel does (an editable checkout
run with PYTHONDONTWRITEBYTECODE would otherwise compile its modules again in every process,
as Feast's installed package never does).

`make bench-peers` creates the Feast virtualenv (.bench-venv-feast, git-ignored) and runs this.
The table goes to stdout, the figures to JSON (--out, default
benchmarks/results/peers-feast-<UTC time>.json). The Featreg database is created first
(`featreg init`, not timed: Feast creates its registry file inside `feast apply`).

    .venv/bin/python benchmarks/peers_feast.py [--sizes 10 50 200 500] [--feast-venv DIR]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FEATURES_PER_VIEW = 20
TARGET_RATIO = 10.0  # every plan/apply step at least this many times faster than Feast
STEPS = ("plan", "apply", "no-op apply", "one-change apply")

FEATURE_STORE_YAML = """\
project: bench
registry: data/registry.db
provider: local
online_store:
    type: sqlite
    path: data/online_store.db
entity_key_serialization_version: 3
"""

FEAST_READS = """
import json, statistics, sys, time
from feast import FeatureStore
store = FeatureStore(repo_path=sys.argv[1])
repeats = int(sys.argv[2])
def median(fn):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return statistics.median(times)
views = store.list_feature_views()
print(json.dumps({"get": median(lambda: store.get_feature_view("view_0000")),
                  "list": median(store.list_feature_views),
                  "features_listed": sum(len(v.features) for v in views)}))
"""


def description(view: int, feature: int, edited: bool) -> str:
    return f"Feature {feature} of view {view}" + (" (edited)" if edited else "")


def feast_definitions(views: int, edited: bool) -> str:
    lines = [
        "from datetime import timedelta",
        "from feast import Entity, FeatureView, Field, FileSource",
        "from feast.types import Float32",
        "user = Entity(name='user', join_keys=['user_id'])",
    ]
    for v in range(views):
        fields = ", ".join(
            f"Field(name='view_{v:04d}_f{f:02d}', dtype=Float32, "
            f"description={description(v, f, edited and v == 0 and f == 0)!r})"
            for f in range(FEATURES_PER_VIEW))
        lines += [
            f"source_{v} = FileSource(name='source_{v:04d}', path='data/events.parquet', "
            "timestamp_field='event_timestamp')",
            f"view_{v} = FeatureView(name='view_{v:04d}', entities=[user], "
            f"ttl=timedelta(days=1), schema=[{fields}], online=True, source=source_{v}, "
            "tags={'team': 'growth'})",
        ]
    return "\n".join(lines) + "\n"


def featreg_spec(views: int, edited: bool) -> dict[str, Any]:
    return {
        "teams": [{"name": "growth"}],
        "sources": [{"name": f"warehouse.source_{v:04d}", "kind": "table", "owner": "growth"}
                    for v in range(views)],
        "features": [
            {"name": f"view_{v:04d}_f{f:02d}", "owner": "growth", "dtype": "float",
             "description": description(v, f, edited and v == 0 and f == 0),
             "sources": [f"warehouse.source_{v:04d}"], "tags": ["growth"]}
            for v in range(views) for f in range(FEATURES_PER_VIEW)],
    }


def write_repos(folder: Path, views: int, edited: bool) -> tuple[Path, Path]:
    import yaml

    feast_repo, featreg_repo = folder / "feast_repo", folder / "featreg_repo"
    (feast_repo / "data").mkdir(parents=True, exist_ok=True)
    featreg_repo.mkdir(exist_ok=True)
    (feast_repo / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    (feast_repo / "features.py").write_text(feast_definitions(views, edited))
    (featreg_repo / "catalog.yaml").write_text(
        yaml.safe_dump(featreg_spec(views, edited), sort_keys=False))
    return feast_repo, featreg_repo


def write_events(feast_repo: Path) -> None:
    import pandas as pd

    pd.DataFrame({"user_id": [1, 2], "event_timestamp": pd.to_datetime(
        ["2026-01-01", "2026-01-02"], utc=True)}).to_parquet(feast_repo / "data" / "events.parquet")


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None,
        cpu: dict[str, float] | None = None, step: str = "") -> float:
    """Wall seconds of a whole process; its CPU seconds (user + system) go to cpu[step]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=3600)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    if cpu is not None:
        cpu[step] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds


def compile_featreg() -> None:
    """Byte-compile the `registry` package, as `pip install` of the wheel does."""
    compileall.compile_dir(str(ROOT / "registry"), quiet=1)


def featreg_reads(url: str, repeats: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from registry.sdk.client import Client
    from registry.store.db import dispose_engine

    client = Client(url, actor="bench")

    def median(fn: Any) -> float:
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    figures = {"get": median(lambda: client.get("view_0000_f00")), "list": median(client.list),
               "features_listed": float(len(client.list()))}
    dispose_engine(url)
    return figures


def measure(views: int, feast_bin: Path, repeats: int, rounds: int) -> dict[str, Any]:
    """Each step's median over `rounds` rounds (each from a fresh repository and database,
    Feast's and Featreg's steps alternating), and the read latencies of the last round."""
    wall: dict[str, dict[str, list[float]]] = {"feast": {}, "featreg": {}}
    cpu: dict[str, dict[str, list[float]]] = {"feast": {}, "featreg": {}}
    reads: dict[str, Any] = {}
    for last in [False] * (rounds - 1) + [True]:
        reads = _round(views, feast_bin, repeats if last else 0, wall, cpu)
    return {"views": views, "features": views * FEATURES_PER_VIEW, "rounds": rounds,
            "steps": _medians(wall), "cpu": _medians(cpu), "all_steps": wall, "all_cpu": cpu,
            "reads": reads}


def _medians(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {tool: {step: statistics.median(values) for step, values in steps.items()}
            for tool, steps in times.items()}


def _round(views: int, feast_bin: Path, repeats: int, wall: dict[str, dict[str, list[float]]],
           cpu: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    featreg = [str(Path(sys.executable).parent / "featreg")]
    feast = [str(feast_bin / "feast")]
    env = {**os.environ, "FEAST_USAGE": "False", "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix=f"featreg-peers-{views}-") as name:
        folder = Path(name)
        feast_repo, featreg_repo = write_repos(folder, views, edited=False)
        write_events(feast_repo)
        url = f"sqlite:///{folder / 'featreg.db'}"
        db = [*featreg, "--db", url, "--actor", "bench"]
        run([*db, "init"], folder)
        for step in STEPS:
            if step == "one-change apply":
                write_repos(folder, views, edited=True)
            verb = "plan" if step == "plan" else "apply"
            for tool, command, cwd, tool_env in (
                    ("feast", [*feast, verb], feast_repo, env),
                    ("featreg", [*db, verb, str(featreg_repo)], folder, None)):
                used: dict[str, float] = {}
                wall[tool].setdefault(step, []).append(run(command, cwd, tool_env, used, step))
                cpu[tool].setdefault(step, []).append(used[step])
        if not repeats:  # reads are measured in the last round only
            return {}
        feast_reads = json.loads(subprocess.run(
            [str(feast_bin / "python"), "-c", FEAST_READS, str(feast_repo), str(repeats)],
            capture_output=True, text=True, check=True, env=env).stdout.strip().splitlines()[-1])
        return {"feast": feast_reads, "featreg": featreg_reads(url, repeats)}


HEADER = (f"{'N views':>7} {'features':>8}  {'step':24} {'Feast':>10} {'Featreg':>10} "
          f"{'faster':>8}      {'CPU: Feast':>10} {'Featreg':>10} {'faster':>8}")


def print_table(results: list[dict[str, Any]]) -> bool:
    """The rows of each N; True when every plan/apply step meets the target."""
    met = True
    for r in results:
        rows = [(step, r["steps"]["feast"][step], r["steps"]["featreg"][step], True)
                for step in STEPS]
        rows += [("warm get (one object)", r["reads"]["feast"]["get"],
                  r["reads"]["featreg"]["get"], False),
                 (f"list ({int(r['reads']['featreg']['features_listed']):,} features)",
                  r["reads"]["feast"]["list"], r["reads"]["featreg"]["list"], False)]
        for step, theirs, ours, judged in rows:
            ratio = theirs / ours if ours else float("inf")
            verdict = ("pass" if ratio >= TARGET_RATIO else "MISS") if judged else ""
            met &= verdict != "MISS"
            line = (f"{r['views']:>7} {r['features']:>8}  {step:24} {shown(theirs):>10} "
                    f"{shown(ours):>10} {ratio:>7.1f}x {verdict:4}")
            if judged and "cpu" in r:
                their_cpu, our_cpu = r["cpu"]["feast"][step], r["cpu"]["featreg"][step]
                line += (f" {shown(their_cpu):>10} {shown(our_cpu):>10} "
                         f"{their_cpu / our_cpu if our_cpu else float('inf'):>7.1f}x")
            print(line)
    return met


def shown(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200, 500])
    parser.add_argument("--feast-venv", type=Path, default=ROOT / ".bench-venv-feast")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3,
                        help="whole plan/apply sequences per N; each step's median is shown")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="N = 10 only")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.rounds = [10], 1
    feast_bin = args.feast_venv.resolve() / "bin"
    if not (feast_bin / "feast").exists():
        sys.exit(f"no Feast in {args.feast_venv}: run `make bench-peers` (it installs it)")
    out = args.out or HERE / "results" / (
        f"peers-feast-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    compile_featreg()
    results: list[dict[str, Any]] = []
    met = True
    print(HEADER, flush=True)
    for views in args.sizes:  # each N printed and saved as soon as it is measured
        results.append(measure(views, feast_bin, args.repeats, args.rounds) | {
            "load_average": os.getloadavg()[0]})
        met &= print_table(results[-1:])
        sys.stdout.flush()
        out.write_text(json.dumps({"results": results, "target_ratio": TARGET_RATIO},
                                  indent=2))
    print(f"figures written to {out}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
