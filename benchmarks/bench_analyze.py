"""`featreg analyze` at the judged scale: 400 features, 40 consumers, 35,000 usage lines and a
10,000-row labelled snapshot of 400 features. Target: the whole analysis (computed importance
included) under 60 s on the 2-core machine. Prints each stage's time.

    .venv/bin/python benchmarks/bench_analyze.py [--features 400] [--seed 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from registry.catalog.service import apply_spec
from registry.catalog.spec import load_spec
from registry.evidence.importance import ingest_importance_csv
from registry.evidence.snapshots import add_snapshot
from registry.evidence.usage import ingest_usage_file
from registry.findings.run import run_analysis
from registry.store.db import session_factory, session_scope, upgrade
from registry.synthetic import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=400)
    parser.add_argument("--consumers", type=int, default=40)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--usage", type=int, default=35_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    figures: list[tuple[str, float]] = []

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        result = fn()
        figures.append((label, time.perf_counter() - start))
        return result

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = timed("generate world", lambda: generate_world(
            n_features=args.features, n_consumers=args.consumers, snapshot_rows=args.rows,
            usage_lines=args.usage, seed=args.seed))
        world.write(root)
        url = f"sqlite:///{root / 'bench.db'}"
        upgrade(url)
        sessions = session_factory(url)

        def step(fn):  # type: ignore[no-untyped-def]
            with session_scope(sessions) as session:
                return fn(session)

        timed("apply catalog", lambda: step(lambda s: apply_spec(
            s, load_spec([root / "catalog"]), actor="bench")))
        timed("ingest usage", lambda: step(lambda s: ingest_usage_file(s, root / "usage.jsonl")))
        timed("ingest importance", lambda: step(
            lambda s: ingest_importance_csv(s, root / "importance.csv")))
        timed("snapshot add (stats + correlation)", lambda: step(lambda s: add_snapshot(
            s, root / "snapshot.parquet", label="label", consumer=world.snapshot_consumer,
            compute_importance=False)))
        result = timed("analyze (computed importance + detectors)",
                       lambda: step(lambda s: run_analysis(s, now=world.now)))
        timed("analyze again (no new snapshot)",
              lambda: step(lambda s: run_analysis(s, now=world.now)))
    total = sum(result.summary.new.values())
    print(f"{'stage':45s} {'seconds':>8s}")
    for label, seconds in figures:
        print(f"{label:45s} {seconds:8.2f}")
    analyze = figures[-2][1]
    print(f"\nanalyze: {analyze:.1f} s (target < 60 s: {'PASS' if analyze < 60 else 'FAIL'}); "
          f"{total} findings; repeated analyze / first = {figures[-1][1] / analyze:.2f}")


if __name__ == "__main__":
    main()
