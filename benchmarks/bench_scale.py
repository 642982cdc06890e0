"""Scaling curves on a synthetic organisation (registry.synthetic.scale) at several sizes.

For each size N (default 10,000, 30,000 and 100,000 features; 3 edges per feature, so 300,000
edges at 100k; 1,000 consumers; 90 days of daily usage rollups; the models' importance) it
writes the organisation as YAML, JSON Lines and CSV, then runs three fresh processes on one
SQLite database (so each peak memory is that step's alone):

Wall-clock figures come with the process's CPU time: on a busy machine the CPU time says what
the work costs, the wall clock what a user waits.

1. catalog: `featreg apply` of the YAML (features/s; target 100k <= 60 s) beside the floor,
   the same rows inserted raw with executemany (and the YAML parse with libyaml); the no-op
   re-apply; `featreg plan` of 100 changes;
2. evidence: `featreg usage ingest` of the 90 days of daily counts and `importance ingest`;
3. analysis: `featreg analyze` (rollups, statistics, every detector, findings recorded) with
   its time and peak memory (target 100k <= 5 min and <= 8 GiB).

Each curve's baseline is the linear projection from the smallest size (time x N / N0): a
ratio near 1.0 at every size means the step grows linearly.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,30000,100000] [--quick]
        [--consumers 1000] [--days 90] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import Figure, peak_rss_mib, report, timed  # noqa: E402

from registry.synthetic.scale import (  # noqa: E402
    ScaleCatalog,
    generate_catalog,
    with_changes,
    write_organisation,
    write_spec,
)

ANALYSIS_NOW = datetime(2026, 11, 16, tzinfo=UTC)


def organisation(features: int, consumers: int) -> ScaleCatalog:
    return generate_catalog(features=features, edges=3 * features, consumers=consumers,
                            hub_dependents=min(1_000, features // 10), seed=0)


def profiled(profile: Path | None, name: str, fn: Any) -> Any:
    """Run fn under pyinstrument when --profile is given (HTML written to DIR/name.html)."""
    if profile is None:
        return fn()
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    profiler.start()
    try:
        return fn()
    finally:
        profiler.stop()
        profile.mkdir(parents=True, exist_ok=True)
        (profile / f"{name}.html").write_text(profiler.output_html(), encoding="utf-8")
        (profile / f"{name}.txt").write_text(profiler.output_text(unicode=False),
                                             encoding="utf-8")


def step_catalog(folder: Path, catalog: ScaleCatalog, profile: Path | None) -> dict[str, Any]:
    from bench_catalog import cli, libyaml_parse_baseline, raw_insert_baseline

    from registry.store.db import upgrade

    raw_url = f"sqlite:///{folder / 'raw.db'}"
    upgrade(raw_url)
    raw = raw_insert_baseline(raw_url, catalog)
    (folder / "raw.db").unlink()
    parse = libyaml_parse_baseline(sorted((folder / "catalog").glob("*.yaml")))
    url = f"sqlite:///{folder / 'org.db'}"
    upgrade(url)
    n = len(catalog.spec["features"])
    cpu = time.process_time()
    apply_s, output = timed(lambda: profiled(profile, f"apply_{n}", lambda: cli(
        url, "apply", str(folder / "catalog"))))
    assert "Applied as change set" in output, output[-500:]
    apply_cpu_s = time.process_time() - cpu
    noop_s, output = timed(lambda: cli(url, "apply", str(folder / "catalog")))
    assert "No changes" in output, output[-500:]
    write_spec(with_changes(catalog, 100), folder / "changed")
    plan_s, output = timed(lambda: cli(url, "plan", str(folder / "changed")))
    return {"apply_s": apply_s, "apply_cpu_s": apply_cpu_s, "raw_s": raw, "parse_s": parse,
            "noop_s": noop_s,
            "plan_s": plan_s, "plan_summary": output.strip().splitlines()[-1],
            "peak_rss_mib": peak_rss_mib()}


def step_evidence(folder: Path, profile: Path | None) -> dict[str, Any]:
    from registry.evidence.importance import ingest_importance_csv
    from registry.evidence.usage import ingest_usage_file
    from registry.store.db import session_factory, session_scope

    sessions = session_factory(f"sqlite:///{folder / 'org.db'}")
    with session_scope(sessions) as session:
        usage_s, summary = timed(lambda: profiled(profile, "usage", lambda: ingest_usage_file(
            session, folder / "usage.jsonl")))
    assert summary.rejected == 0, summary
    with session_scope(sessions) as session:
        importance_s, _ = timed(lambda: ingest_importance_csv(session, folder / "importance.csv",
                                                              now=ANALYSIS_NOW))
    return {"usage_s": usage_s, "usage_lines": summary.events, "importance_s": importance_s,
            "peak_rss_mib": peak_rss_mib()}


def step_analysis(folder: Path, profile: Path | None, n: int) -> dict[str, Any]:
    from registry.findings.run import run_analysis
    from registry.store.db import session_factory, session_scope

    sessions = session_factory(f"sqlite:///{folder / 'org.db'}")
    rss_before = peak_rss_mib()
    cpu = time.process_time()
    with session_scope(sessions) as session:
        analysis_s, result = timed(lambda: profiled(profile, f"analyze_{n}", lambda: run_analysis(
            session, now=ANALYSIS_NOW)))
    return {"analysis_s": analysis_s, "analysis_cpu_s": time.process_time() - cpu,
            "findings": sum(result.summary.new.values()),
            "rss_before_mib": rss_before, "peak_rss_mib": peak_rss_mib()}


def child(step: str, folder: Path, features: int, consumers: int,
          profile: Path | None) -> dict[str, Any]:
    if step == "catalog":
        return step_catalog(folder, organisation(features, consumers), profile)
    if step == "evidence":
        return step_evidence(folder, profile)
    return step_analysis(folder, profile, features)


def run_child(step: str, folder: Path, args: argparse.Namespace, n: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", step, str(folder), "--sizes", str(n),
               "--consumers", str(args.consumers)]
    if args.profile:
        command += ["--profile", str(args.profile)]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{step} at {n:,} features failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"featreg-scale-{n}-") as tmp:
        folder = Path(tmp)
        catalog = organisation(n, args.consumers)
        seconds, written = timed(lambda: write_organisation(catalog, folder, days=args.days))
        edges = sum(catalog.edge_counts().values())
        print(f"{n:,} features, {edges:,} edges, {args.consumers:,} consumers, "
              f"{written['usage_lines']:,} usage events ({written['rollup_rows']:,} daily rollup "
              f"rows, {args.days} days), "
              f"{written['importance_rows']:,} importance rows: written in {seconds:.1f} s",
              flush=True)
        row: dict[str, Any] = {"features": n, "edges": edges, **written}
        for step in ("catalog", "evidence", "analysis"):
            figures = run_child(step, folder, args, n)
            row[step] = figures
            print(f"  {step}: " + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in figures.items()), flush=True)
    return row


def figures_for(rows: list[dict[str, Any]]) -> list[Figure]:
    first = rows[0]
    n0 = first["features"]
    figures: list[Figure] = []
    for row in rows:
        n, scale = row["features"], row["features"] / n0
        c, e, a = row["catalog"], row["evidence"], row["analysis"]
        label = f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"
        figures += [
            Figure(f"apply {label} features ({row['edges']:,} edges)", c["apply_s"],
                   baseline=c["raw_s"], baseline_name="raw executemany",
                   target=60.0 if n >= 100_000 else None,
                   note=f"{n / c['apply_s']:,.0f} features/s; CPU {c['apply_cpu_s']:.1f} s"),
            Figure(f"apply {label}: features/s", n / c["apply_s"], "features/s",
                   baseline=n0 / first["catalog"]["apply_s"], baseline_name=f"at {n0:,}",
                   higher_is_better=True),
            Figure(f"no-op re-apply {label}", c["noop_s"], baseline=c["parse_s"],
                   baseline_name="libyaml parse"),
            Figure(f"plan of 100 changes {label}", c["plan_s"], baseline=c["parse_s"],
                   baseline_name="libyaml parse", note=c["plan_summary"]),
            Figure(f"usage ingest {label} ({row['rollup_rows']:,} daily rows)", e["usage_s"],
                   baseline=first["evidence"]["usage_s"] * row["usage_lines"]
                   / first["usage_lines"], baseline_name="linear from smallest"),
            Figure(f"analysis {label} features, {row['rollup_rows']:,} rollups",
                   a["analysis_s"], baseline=first["analysis"]["analysis_s"] * scale,
                   baseline_name="linear from smallest",
                   target=300.0 if n >= 100_000 else None,
                   note=f"{a['findings']:,} findings; CPU {a['analysis_cpu_s']:.1f} s"),
            Figure(f"analysis {label}: peak memory", a["peak_rss_mib"], "MiB",
                   baseline=first["analysis"]["peak_rss_mib"] * scale,
                   baseline_name="linear from smallest",
                   target=8192.0 if n >= 100_000 else None),
        ]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000,100000",
                        help="comma-separated feature counts")
    parser.add_argument("--consumers", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=90, help="days of usage rollups")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1,000 and 3,000 features, 100 consumers, 14 days")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="pyinstrument profiles of apply, usage ingest and analysis")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.consumers, args.days = "1000,3000", 100, 14
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        step, folder = args.child
        print(json.dumps(child(step, Path(folder), sizes[0], args.consumers, args.profile)))
        return 0
    started = time.perf_counter()
    rows = [measure_size(n, args) for n in sizes]
    figures = figures_for(rows)
    report("bench_scale.py", figures, sizes=sizes, consumers=args.consumers, days=args.days)
    if len(rows) > 1:
        last, first = rows[-1], rows[0]
        growth = (last["analysis"]["analysis_s"] / first["analysis"]["analysis_s"]) / (
            last["features"] / first["features"])
        print(f"\nanalysis time grows {growth:.2f}x as fast as the catalog from "
              f"{first['features']:,} to {last['features']:,} features "
              f"({'about linear' if growth < 1.3 else 'faster than linear'})")
    print(f"bench_scale: {time.perf_counter() - started:.0f} s")
    return 1 if any(f.verdict == "MISS" for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
