"""Benchmark: Featreg's correlated pairs against pandas and against the raw BLAS floor.

Builds a rows x cols float matrix with planted correlated pairs (optionally with NaNs in some
columns), writes it as Parquet to a temporary folder, reads it back, then times in this one
process:

* Pearson: ``correlated_pairs(method="pearson")`` vs ``DataFrame.corr()`` + selecting the pairs,
  and vs the BLAS floor (``Z.T @ Z`` on the already standardised float64 matrix);
* Spearman: ``correlated_pairs(method="spearman")`` vs ``DataFrame.corr(method="spearman")``;

checks that both give the same pairs and values (to 1e-9) and the same full matrices, and
finally measures the peak memory (VmHWM) of reading + correlating a rows x big-cols file in a
fresh subprocess for each method. Our code and the floor run alternately (best of --repeats
each) so a busy machine slows both alike; pandas runs once.

    python benchmarks/bench_correlation.py                       # 100,000 x 500, then 2,000
    python benchmarks/bench_correlation.py --missing 10          # 10 columns with 10% NaN
    python benchmarks/bench_correlation.py --rows 5000 --cols 60 --big-cols 100   # smoke test

Whole process (`--whole-process`), as a user runs it: the Parquet file is written once, then
each of these runs as a fresh process and is timed from outside (best of --process-repeats for
Featreg and the floor, once for the slow baselines): `featreg snapshot correlate FILE` (with
`--method pearson`, and with the default, both methods), the pandas script a data scientist
writes instead (`read_parquet` + `DataFrame.corr()` + select the pairs), feature-engine's
`DropCorrelatedFeatures` (when installed: `pip install -e '.[bench]'`), and the floor: a script
that reads the file with pyarrow into a float64 matrix, centres it and multiplies `Z.T @ Z`.
Featreg's pairs are checked against the pandas script's (to 1e-9).

    python benchmarks/bench_correlation.py --whole-process                     # 100,000 x 500
    python benchmarks/bench_correlation.py --whole-process --rows 200000 --cols 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.analysis.correlation import (  # noqa: E402
    CorrelatedPair,
    correlated_pairs,
    correlation_matrix,
)
from registry.analysis.frame_io import read_frame  # noqa: E402

TOLERANCE = 1e-9
Pairs = dict[tuple[str, str], float]


def build_frame(rows: int, cols: int, missing_cols: int, seed: int = 7) -> pd.DataFrame:
    """Standard normal columns; every 10th column gets a planted partner (some nonlinear)."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((rows, cols))
    for left in range(0, cols - 1, 10):
        rho = rng.uniform(0.85, 0.995)
        partner = rho * values[:, left] + np.sqrt(1 - rho**2) * values[:, left + 1]
        values[:, left + 1] = np.exp(partner) if left % 20 == 0 else partner
    frame = pd.DataFrame(values, columns=[f"f{i:04d}" for i in range(cols)])
    for col in rng.choice(cols, size=min(missing_cols, cols), replace=False):
        frame.iloc[rng.random(rows) < 0.1, col] = np.nan
    return frame


def pandas_pairs(frame: pd.DataFrame, method: str, threshold: float) -> Pairs:
    matrix = frame.corr(method=method).to_numpy()
    rows, cols = np.nonzero(np.triu(np.abs(matrix) >= threshold, 1))
    names = frame.columns
    return {(names[i], names[j]): float(matrix[i, j]) for i, j in zip(rows, cols, strict=True)}


def our_pairs(pairs: list[CorrelatedPair], method: str) -> Pairs:
    return {(p.a, p.b): getattr(p, method) for p in pairs}


def compare_pairs(ours: Pairs, theirs: Pairs, threshold: float) -> tuple[bool, float]:
    """Same pair set (up to pairs within TOLERANCE of the threshold) and largest difference."""
    diff = 0.0
    for key in ours.keys() | theirs.keys():
        mine, reference = ours.get(key), theirs.get(key)
        if mine is None or reference is None:
            present = mine if mine is not None else reference
            assert present is not None
            if abs(abs(present) - threshold) > TOLERANCE:
                return False, float("inf")
            continue
        diff = max(diff, abs(mine - reference))
    return diff <= TOLERANCE, diff


def best_time(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def standardised_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Centred, unit-norm float64 columns (0 for NaN), column-major: the BLAS floor's input."""
    values = frame.to_numpy(dtype=np.float64)
    values = values - np.nanmean(values, axis=0)
    np.nan_to_num(values, copy=False)
    values /= np.linalg.norm(values, axis=0)
    return np.asfortranarray(values)


def interleaved_best(first: Callable[[], Any], second: Callable[[], Any],
                     repeats: int) -> tuple[float, float, Any]:
    """Best time of each, alternating runs so both see the same machine load."""
    best_first = best_second = float("inf")
    result = None
    for _ in range(repeats):
        seconds, _ = best_time(first, 1)
        best_first = min(best_first, seconds)
        seconds, result = best_time(second, 1)
        best_second = min(best_second, seconds)
    return best_first, best_second, result


def run_memory_child(path: Path, method: str) -> dict[str, float]:
    """Fresh interpreter: read the file, correlate, report seconds and peak RSS."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(path), method],
        check=True, capture_output=True, text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def peak_rss_bytes() -> int:
    """This process's peak resident memory. VmHWM, not ru_maxrss: on Linux ru_maxrss carries
    over the parent's peak through fork and exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(path: str, method: str) -> None:
    start = time.perf_counter()
    frame = read_frame(path)
    read_seconds = time.perf_counter() - start
    pairs = correlated_pairs(frame, threshold=0.8, method=method)  # type: ignore[arg-type]
    peak = peak_rss_bytes()
    print(json.dumps({"read_seconds": read_seconds,
                      "correlate_seconds": time.perf_counter() - start - read_seconds,
                      "peak_bytes": peak, "pairs": len(pairs)}))


def time_floor_and_pearson(frame: pd.DataFrame,
                           args: argparse.Namespace) -> tuple[float, float, Any]:
    standardised = standardised_matrix(frame)
    return interleaved_best(
        lambda: standardised.T @ standardised,
        lambda: correlated_pairs(frame, args.threshold, "pearson"), args.repeats)


def time_methods(frame: pd.DataFrame, args: argparse.Namespace) -> bool:
    """Print the timing table for both methods; True when pandas agrees."""
    print(f"{'measure':44s} {'seconds':>9s} {'ratio':>9s}")
    row = "{:44s} {:9.3f} {:>9s}"
    ok = True
    floor, ours_pearson, pearson_pairs = time_floor_and_pearson(frame, args)
    for method in ("pearson", "spearman"):
        if method == "pearson":
            ours_s, pairs = ours_pearson, pearson_pairs
        else:
            ours_s, pairs = best_time(
                lambda: correlated_pairs(frame, args.threshold, "spearman"), args.repeats)
        if method == "spearman" and args.skip_spearman_baseline:
            print(row.format(f"featreg {method}", ours_s, ""))
            continue
        theirs_s, reference = best_time(
            lambda m=method: pandas_pairs(frame, m, args.threshold), 1)
        same, diff = compare_pairs(our_pairs(pairs, method), reference, args.threshold)
        matrix_diff = np.nanmax(np.abs(
            correlation_matrix(frame, method).values - frame.corr(method=method).to_numpy()))
        ok &= same and matrix_diff <= TOLERANCE
        print(row.format(f"pandas DataFrame.corr({method}) + pairs", theirs_s, ""))
        print(row.format(f"featreg {method}", ours_s, f"{theirs_s / ours_s:.1f}x faster"))
        if method == "pearson":
            print(row.format("BLAS floor Z.T @ Z", floor, f"{ours_s / floor:.2f}x floor"))
        print(f"  {len(pairs)} pairs, same as pandas: {same}, largest pair difference "
              f"{diff:.1e}, largest matrix difference {matrix_diff:.1e}")
    return ok


PANDAS_SCRIPT = """
import json, sys
import numpy as np, pandas as pd
frame = pd.read_parquet(sys.argv[1])
matrix = frame.corr(method=sys.argv[2]).to_numpy()
rows, cols = np.nonzero(np.triu(np.abs(matrix) >= float(sys.argv[3]), 1))
names = frame.columns
print(json.dumps([[names[i], names[j], float(matrix[i, j])] for i, j in zip(rows, cols)]))
"""
FEATURE_ENGINE_SCRIPT = """
import sys
import pandas as pd
from feature_engine.selection import DropCorrelatedFeatures
frame = pd.read_parquet(sys.argv[1])
selector = DropCorrelatedFeatures(method=sys.argv[2], threshold=float(sys.argv[3]))
print(len(selector.fit(frame).features_to_drop_))
"""
FLOOR_SCRIPT = """
import sys
import numpy as np, pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
z = np.empty((table.num_rows, table.num_columns), order="F")
for k, column in enumerate(table.columns):
    x = column.to_numpy()
    np.subtract(x, x.mean(), out=z[:, k])
print((z.T @ z).shape)
"""


def process_seconds(command: list[str], repeats: int = 1) -> tuple[float, str]:
    """Best wall time of a fresh process over ``repeats`` runs, and its output."""
    best, output = float("inf"), ""
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        output = done.stdout
    return best, output


def feature_engine_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("feature_engine") is not None


def whole_process(args: argparse.Namespace) -> bool:
    """Time the command line against the pandas script, feature-engine and the floor."""
    featreg = str(Path(sys.executable).parent / "featreg")
    with tempfile.TemporaryDirectory(prefix="featreg-bench-") as folder:
        path = Path(folder) / "snapshot.parquet"
        build_frame(args.rows, args.cols, 0).to_parquet(path, index=False)
        threshold = str(args.threshold)
        print(f"whole process, {args.rows:,} rows x {args.cols} float columns "
              f"({path.stat().st_size / 2**20:,.0f} MiB Parquet), threshold {threshold}")
        ours = {}
        for method in ("pearson", "both"):
            ours[method] = process_seconds(
                [featreg, "snapshot", "correlate", str(path), "--method", method,
                 "--threshold", threshold, "--format", "json"], args.process_repeats)
        floor, _ = process_seconds([sys.executable, "-c", FLOOR_SCRIPT, str(path)],
                                   args.process_repeats)
        pandas_s, pandas_out = process_seconds(
            [sys.executable, "-c", PANDAS_SCRIPT, str(path), "pearson", threshold])
        engine_s = None
        if feature_engine_installed() and not args.skip_feature_engine:
            engine_s, _ = process_seconds(
                [sys.executable, "-c", FEATURE_ENGINE_SCRIPT, str(path), "pearson", threshold])
    reference = {(a, b): r for a, b, r in json.loads(pandas_out)}
    mine = {(p["a"], p["b"]): p["pearson"] for p in json.loads(ours["pearson"][1])}
    same, diff = compare_pairs(mine, reference, args.threshold)
    row = "{:58s} {:9.2f} {:>22s}"
    print(f"{'measure (fresh process, wall)':58s} {'seconds':>9s} {'ratio':>22s}")
    print(row.format("pandas: read_parquet + DataFrame.corr() + pairs", pandas_s, ""))
    if engine_s is not None:
        print(row.format("feature-engine DropCorrelatedFeatures (pearson)", engine_s, ""))
    for method, label in (("pearson", "--method pearson"), ("both", "default: both methods")):
        seconds = ours[method][0]
        ratio = f"{pandas_s / seconds:.1f}x faster than pandas"
        print(row.format(f"featreg snapshot correlate ({label})", seconds, ratio))
        if engine_s is not None:
            print(row.format("", seconds, f"{engine_s / seconds:.1f}x faster than f-e"))
    print(row.format("floor: pyarrow read + centre + Z.T @ Z (float64)", floor,
                     f"featreg pearson {ours['pearson'][0] / floor:.2f}x floor"))
    print(f"  {len(mine)} pairs, same as pandas: {same}, largest difference {diff:.1e}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=500)
    parser.add_argument("--big-cols", type=int, default=2_000,
                        help="columns of the peak-memory run (0 to skip it)")
    parser.add_argument("--missing", type=int, default=0, metavar="N",
                        help="columns that get ~10%% NaN")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, default=5, help="runs of our code and the floor")
    parser.add_argument("--skip-spearman-baseline", action="store_true",
                        help="do not run pandas' (slow) Spearman")
    parser.add_argument("--whole-process", action="store_true",
                        help="time the command line against the pandas script as processes")
    parser.add_argument("--process-repeats", type=int, default=2)
    parser.add_argument("--skip-feature-engine", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.whole_process:
        ok = whole_process(args)
        print("all checks passed" if ok else "CHECKS FAILED")
        sys.exit(0 if ok else 1)

    with tempfile.TemporaryDirectory(prefix="featreg-bench-") as folder:
        path = Path(folder) / "snapshot.parquet"
        build_frame(args.rows, args.cols, args.missing).to_parquet(path)
        frame = read_frame(path)
        print(f"{args.rows:,} rows x {args.cols} float columns, {args.missing} with NaNs, "
              f"threshold {args.threshold}")
        ok = time_methods(frame, args)
        del frame
        if args.big_cols:
            big = Path(folder) / "big.parquet"
            build_frame(args.rows, args.big_cols, args.missing).to_parquet(big)
            for method in ("pearson", "spearman"):
                figures = run_memory_child(big, method)
                print(f"{args.rows:,} x {args.big_cols} {method}: read "
                      f"{figures['read_seconds']:.1f} s, correlate "
                      f"{figures['correlate_seconds']:.1f} s, peak memory "
                      f"{figures['peak_bytes'] / 2**30:.2f} GiB (limit 4 GiB)")
                ok &= figures["peak_bytes"] <= 4 * 2**30
    print("all checks passed" if ok else "CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
