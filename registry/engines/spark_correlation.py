"""Pairwise Pearson and Spearman correlation of snapshot columns on Spark.

Same definitions as `registry.analysis.correlation` (pandas' ``DataFrame.corr``): numeric
and boolean columns, ±inf and NaN missing, each pair over its pairwise-complete rows; a pair
is undefined with fewer than two common rows or no variation on them.

* Both use Spark's ``corr`` aggregate (a numerically stable co-moment update, no sums of
  squares that cancel).
* Pearson alone runs over the wide frame, many pairs per pass.
* Spearman ranks must be taken on each pair's common rows (pandas does), so each row is
  exploded into one (pair, x, y) entry per pair in which both values are present, and the
  average ranks come from one ordered window per side, partitioned by pair; Pearson of the
  same pairs is read from the same entries. Exact and distributed, but the shuffled volume
  is rows x pairs. Columns without missing values need no re-ranking in principle; this
  engine still treats them like the rest (one code path, exact ties).

`tracked_pairs` computes the correlation of the few pairs the snapshot service tracks (those
strong in an earlier snapshot), with `registry.engines.local.tracked_correlation`'s rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql.window import Window

from registry.analysis.correlation import CorrelatedPair, Method
from registry.engines.spark_profile import ColumnPlan, column_plans, spark_column

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["correlate_columns", "tracked_pairs"]

PAIRS_PER_PASS = 300
TIE_DECIMALS = 12

Pair = tuple[float | None, int]


def _finite(plan: ColumnPlan) -> Column:
    value = spark_column(plan.name).cast("double")
    return F.when(~F.isnan(value) & (F.abs(value) != float("inf")), value)


def _number(plan: ColumnPlan) -> Column:
    """pandas.to_numeric(errors="coerce"): numbers (±inf kept), other text missing."""
    value = spark_column(plan.name).try_cast("double")
    return F.when(~F.isnan(value), value)


def _pearson(frame: DataFrame, values: dict[int, Column], pairs: list[tuple[int, int]]
             ) -> dict[tuple[int, int], Pair]:
    """Pearson of many pairs per pass over the wide frame (no explode)."""
    found: dict[tuple[int, int], Pair] = {}
    for start in range(0, len(pairs), PAIRS_PER_PASS):
        chunk = pairs[start:start + PAIRS_PER_PASS]
        aggregates = []
        for k, (i, j) in enumerate(chunk):
            aggregates.append(F.corr(values[i], values[j]).alias(f"r{k}"))
            both = values[i].isNotNull() & values[j].isNotNull()
            aggregates.append(F.count(F.when(both, 1)).alias(f"n{k}"))
        row = frame.agg(*aggregates).first()
        assert row is not None
        for k, pair in enumerate(chunk):
            found[pair] = (_defined(row[f"r{k}"]), int(row[f"n{k}"]))
    return found


def _defined(value: Any) -> float | None:
    if value is None or value != value or abs(value) == float("inf"):
        return None
    return max(-1.0, min(1.0, float(value)))


def _average_rank(column: str) -> Column:
    """Average rank within the pair: (first rank of the value + last rank of the value) / 2;
    an ordered window's default frame ends with the current row's last peer, so one sort
    gives both."""
    ordered = Window.partitionBy("p").orderBy(column)
    return (F.rank().over(ordered) + F.count(F.lit(1)).over(ordered)) / 2.0


def _pairwise(frame: DataFrame, values: dict[int, Column], pairs: list[tuple[int, int]],
              spearman: bool = True) -> dict[tuple[int, int], tuple[Pair, Pair]]:
    """(Pearson, Spearman) of each pair on its common rows, each with the row count."""
    if not pairs:
        return {}
    entries = F.array(*[F.struct(F.lit(k).alias("p"), values[i].alias("x"),
                                 values[j].alias("y")) for k, (i, j) in enumerate(pairs)])
    present = F.filter(entries, lambda e: e["x"].isNotNull() & e["y"].isNotNull())
    long = frame.select(F.explode(present).alias("e")).select("e.p", "e.x", "e.y")
    measures = [F.corr("x", "y").alias("r"), F.count(F.lit(1)).alias("n")]
    if spearman:
        long = long.select("p", "x", "y", _average_rank("x").alias("rx"))
        long = long.select("p", "x", "y", "rx", _average_rank("y").alias("ry"))
        measures.append(F.corr("rx", "ry").alias("s"))
    found: dict[tuple[int, int], tuple[Pair, Pair]] = {
        pair: ((None, 0), (None, 0)) for pair in pairs}
    for row in long.groupBy("p").agg(*measures).collect():
        n = int(row["n"])
        pearson = _defined(row["r"]) if n >= 2 else None
        rank = _defined(row["s"]) if spearman and n >= 2 else None
        found[pairs[row["p"]]] = ((pearson, n), (rank, n))
    return found


def correlate_columns(frame: DataFrame, threshold: float, method: Method,
                      columns: Sequence[str] | None = None) -> list[CorrelatedPair]:
    """Pairs of numeric columns with |r| >= threshold (for ``both``: either), ordered like
    `registry.analysis.correlation.correlated_pairs`."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    if method not in ("pearson", "spearman", "both"):
        raise ValueError(f"unknown correlation method {method!r}: use pearson, spearman or "
                         "both")
    wanted = None if columns is None else set(columns)
    if wanted is not None and (unknown := sorted(wanted - set(frame.columns))):
        raise ValueError(f"unknown columns: {', '.join(unknown)}")
    names = [c for c in frame.columns if wanted is None or c in wanted]
    plans = [p for p in _supported_plans(frame, names) if p.numeric]
    values = {p.index: _finite(p) for p in plans}
    pairs = [(a.index, b.index) for k, a in enumerate(plans) for b in plans[k + 1:]]
    results: dict[str, dict[tuple[int, int], Pair]] = {}
    if method == "pearson":
        results["pearson"] = _pearson(frame, values, pairs)
    else:
        both = _pairwise(frame, values, pairs)
        results["spearman"] = {pair: found[1] for pair, found in both.items()}
        if method == "both":
            results["pearson"] = {pair: found[0] for pair, found in both.items()}
    name_of = {p.index: p.name for p in plans}
    found = []
    for i, j in pairs:
        pearson = results["pearson"][(i, j)] if "pearson" in results else (None, 0)
        spearman = results["spearman"][(i, j)] if "spearman" in results else (None, 0)
        strengths = [abs(v) for v in (pearson[0], spearman[0]) if v is not None]
        if not strengths or max(strengths) < threshold:
            continue
        n = max(count for value, count in (pearson, spearman) if value is not None)
        found.append((i, j, CorrelatedPair(name_of[i], name_of[j], pearson[0], spearman[0], n)))
    found.sort(key=lambda f: (-round(f[2].strength, TIE_DECIMALS), f[0], f[1]))
    return [pair for _i, _j, pair in found]


def _supported_plans(frame: DataFrame, names: list[str]) -> list[ColumnPlan]:
    """Column plans of the columns the engine can read (others take no part, as text and
    timestamps take no part in correlations)."""
    from pyspark.sql import types as T

    from registry.engines.spark_profile import NUMERIC_TYPES

    readable = [n for n in names
                if isinstance(frame.schema[n].dataType, NUMERIC_TYPES + (T.BooleanType,))]
    return column_plans(frame, readable)


def tracked_pairs(frame: DataFrame, pairs: Sequence[tuple[str, str]]
                  ) -> dict[tuple[str, str], dict[str, float | None]]:
    """Pearson and Spearman of each pair over the rows where both are numbers (None with
    fewer than 3 such rows or no variation)."""
    if not pairs:
        return {}
    names = sorted({name for pair in pairs for name in pair})
    plans = {p.name: p for p in column_plans(frame, names)} if names else {}
    values = {p.index: _number(p) for p in plans.values()}
    indices = [(plans[a].index, plans[b].index) for a, b in pairs]
    found = _pairwise(frame, values, indices)
    result = {}
    for (a, b), key in zip(pairs, indices, strict=True):
        (pearson, n), (spearman, _n) = found[key]
        enough = n >= 3
        result[(a, b)] = {"pearson": pearson if enough else None,
                          "spearman": spearman if enough else None}
    return result
