"""Snapshots over time: (1) the comparison of one feature between two snapshots of 100,000 rows
(profile both columns, compare; target < 50 ms), beside a baseline in the same run (pandas'
describe of the same column); (2) `analyze` on 2,000 features x 50 snapshots (target < 60 s).
The 50 snapshots' rows are written directly (profiles of small samples), so the setup stays
short; the analysis reads them as it reads any stored snapshot.

    .venv/bin/python benchmarks/bench_stability.py [--rows 100000] [--features 2000]
        [--snapshots 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from registry.analysis.stability import compare_profiles, profile_column
from registry.catalog.service import apply_spec
from registry.catalog.spec import parse_documents
from registry.findings.run import run_analysis
from registry.store import models as m
from registry.store.db import session_factory, session_scope, upgrade


def _best(fn, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def comparison(rows: int) -> None:
    rng = np.random.default_rng(1)
    before = pd.Series(rng.lognormal(4, 1, rows))
    after = pd.Series(rng.lognormal(4, 1, rows) * 1000)
    seconds = _best(lambda: compare_profiles(profile_column(before), profile_column(after)))
    baseline = _best(lambda: (before.describe(), after.describe()))
    verdict = "PASS" if seconds < 0.05 else "FAIL"
    print(f"compare one feature, {rows:,} rows: {seconds * 1000:.1f} ms (target < 50 ms: "
          f"{verdict}); pandas describe of both: {baseline * 1000:.1f} ms "
          f"(ratio {seconds / baseline:.1f})")


def analysis(features: int, snapshots: int) -> None:
    rng = np.random.default_rng(2)
    names = [f"f{i:04d}" for i in range(features)]
    spec = ("teams:\n  - {name: t}\nsources:\n  - {name: s, kind: table, owner: t, "
            "freshness: 1d}\nfeatures:\n" + "".join(
                f"  - {{name: {n}, owner: t, dtype: float, sources: [s], description: x}}\n"
                for n in names) + "consumers:\n  - {name: c, kind: model, owner: t, "
            f"stage: production, features: [{', '.join(names[:200])}]}}\n")
    samples = [profile_column(pd.Series(rng.normal(k % 3, 1, 500))) for k in range(6)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        sessions = session_factory(url)
        with session_scope(sessions) as session:
            apply_spec(session, parse_documents([("bench.yaml", spec)]), actor="bench")
            for k in range(snapshots):
                snapshot = m.Snapshot(name=f"s{k}", path="-", sha256="0" * 64, byte_count=0,
                                      row_count=500, columns=names, features=names,
                                      unknown_columns=[], correlation_threshold=0.8,
                                      taken_at=start + timedelta(days=k))
                session.add(snapshot)
                session.flush()
                session.execute(insert(m.SnapshotFeatureStats), [
                    {"snapshot_id": snapshot.id, "feature": n, "stats": {},
                     "profile": samples[(i + k) % len(samples)]}
                    for i, n in enumerate(names)])
        began = time.perf_counter()
        with session_scope(sessions) as session:
            result = run_analysis(session, now=start + timedelta(days=snapshots + 1))
        seconds = time.perf_counter() - began
    unstable = result.summary.new.get("unstable_dependency", 0)
    print(f"analyze, {features:,} features x {snapshots} snapshots: {seconds:.1f} s (target "
          f"< 60 s: {'PASS' if seconds < 60 else 'FAIL'}); {unstable} unstable_dependency")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=2000)
    parser.add_argument("--snapshots", type=int, default=50)
    args = parser.parse_args()
    comparison(args.rows)
    analysis(args.features, args.snapshots)


if __name__ == "__main__":
    main()
