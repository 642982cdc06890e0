"""Per-feature statistics and profiles of a Parquet snapshot, computed on Spark.

The values are those of the in-process code (`registry.analysis.column_stats.column_stats`,
`registry.analysis.stability.profile_column` and `exact_expect_check`) on the same file, read
the way pandas reads it:

* integer and floating columns are numeric (booleans too when they have no nulls: pandas
  reads a boolean column with nulls as objects, so it is categorical, with the texts
  ``True``/``False``); strings are categorical; NaN is missing and ±inf is a value that the
  numeric summaries leave out, as pandas and numpy do;
* quantiles and the profile's 101-point sketch are exact, interpolated linearly (Spark's
  ``percentile``, not ``approx_percentile``); distinct counts are exact; most frequent values
  are ordered by count, then by first appearance in the file.

Three passes over the data: the moments and exact percentiles of every column in one
aggregation, the histogram counts and ``expect`` checks (which need the first pass's min and
max) in a second, and one shuffle of (column, value) pairs for distinct counts and value
shares. Timestamps, dates, decimals and nested columns are refused with their names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from registry.analysis.column_stats import (
    QUANTILES,
    TOP_VALUES,
    ColumnKind,
    ColumnStats,
    _histogram,
    _json_float,
)
from registry.analysis.stability import (
    MAX_CATEGORIES,
    PROBS,
    SMALL_NUMERIC_DISTINCT,
    _number_text,
    _value_text,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["ColumnPlan", "column_plans", "profile_columns", "spark_column"]

NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType)
LEVELS = [float(q) for q in QUANTILES] + [float(p) for p in PROBS]
ORDER = "__featreg_order"


def spark_column(name: str) -> Column:
    """A column by its exact name (dots, spaces and backticks included)."""
    return F.col("`" + name.replace("`", "``") + "`")


@dataclass(frozen=True)
class ColumnPlan:
    """How one feature column is read: its position, name and kind (as pandas sees it)."""

    index: int
    name: str
    kind: ColumnKind

    @property
    def numeric(self) -> bool:
        return self.kind in ("numeric", "boolean")


def _kind(field: T.StructField, has_nulls: bool) -> ColumnKind:
    data_type = field.dataType
    if isinstance(data_type, NUMERIC_TYPES):
        return "numeric"
    if isinstance(data_type, T.BooleanType):
        return "categorical" if has_nulls else "boolean"
    if isinstance(data_type, T.StringType):
        return "categorical"
    raise ValueError(f"column {field.name!r} has Spark type {data_type.simpleString()}: the "
                     "spark engine takes numbers, booleans and strings")


def column_plans(frame: DataFrame, features: Sequence[str]) -> list[ColumnPlan]:
    """The kind of each feature column (one small job counts the nulls of boolean ones)."""
    fields = {f.name: f for f in frame.schema.fields}
    missing = [name for name in features if name not in fields]
    if missing:
        raise ValueError(f"no columns named {', '.join(missing)}")
    booleans = [n for n in features if isinstance(fields[n].dataType, T.BooleanType)]
    nulls: dict[str, int] = {}
    if booleans:
        row = frame.agg(*[F.count(F.when(spark_column(n).isNull(), 1)).alias(f"b{i}")
                          for i, n in enumerate(booleans)]).first()
        assert row is not None
        nulls = {n: int(row[f"b{i}"]) for i, n in enumerate(booleans)}
    return [ColumnPlan(i, n, _kind(fields[n], nulls.get(n, 0) > 0))
            for i, n in enumerate(features)]


def _value(plan: ColumnPlan) -> Column:
    """Numeric columns as doubles (NaN as null); categorical ones as pandas' text."""
    column = spark_column(plan.name)
    if plan.numeric:
        number = column.cast("double")
        return F.when(F.isnan(number), F.lit(None)).otherwise(number)
    return column.cast("string")


def _text(plan: ColumnPlan, frame: DataFrame) -> Column:
    column = spark_column(plan.name)
    if isinstance(frame.schema[plan.name].dataType, T.BooleanType):
        return F.when(column, F.lit("True")).when(~column, F.lit("False"))
    return column.cast("string")


def _finite(value: Column) -> Column:
    return F.when((value != float("inf")) & (value != float("-inf")), value)


def _first_pass(frame: DataFrame, plans: list[ColumnPlan]) -> dict[str, Any]:
    aggregates: list[Column] = [F.count(F.lit(1)).alias("rows")]
    for p in plans:
        i = p.index
        if p.numeric:
            value = _value(p)
            finite = _finite(value)
            aggregates += [
                F.count(value).alias(f"n{i}"), F.count(finite).alias(f"f{i}"),
                F.count(F.when(value == float("inf"), 1)).alias(f"pi{i}"),
                F.count(F.when(value == float("-inf"), 1)).alias(f"ni{i}"),
                F.avg(finite).alias(f"mean{i}"), F.stddev_samp(finite).alias(f"std{i}"),
                F.min(finite).alias(f"min{i}"), F.max(finite).alias(f"max{i}"),
                F.avg(F.abs(finite)).alias(f"mabs{i}"),
                F.percentile(finite, F.array(*[F.lit(q) for q in LEVELS])).alias(f"q{i}"),
                F.percentile(F.abs(finite), F.lit(0.5)).alias(f"medabs{i}"),
            ]
        else:
            aggregates.append(F.count(spark_column(p.name)).alias(f"n{i}"))
    row = frame.agg(*aggregates).first()
    return row.asDict() if row is not None else {}


def _edges(first: Mapping[str, Any], plan: ColumnPlan) -> list[float] | None:
    if not first[f"f{plan.index}"]:
        return None
    low, high = float(first[f"min{plan.index}"]), float(first[f"max{plan.index}"])
    edges: list[float] = _histogram(np.array([low, high]))["edges"]
    return edges


def _wanted_numbers(values: Sequence[Any]) -> list[float]:
    """The finite numbers whose text (`_number_text`) is one of the expected values."""
    found = []
    for text in {_value_text(v) for v in values}:
        try:
            number = float(text)
        except ValueError:
            continue
        if math.isfinite(number) and _number_text(number) == text:
            found.append(number)
    return sorted(found)


def _second_pass(frame: DataFrame, plans: list[ColumnPlan], first: Mapping[str, Any],
                 expects: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    aggregates: list[Column] = []
    for p in plans:
        i = p.index
        value = _value(p) if p.numeric else _text(p, frame)
        edges = _edges(first, p) if p.numeric else None
        if edges is not None and len(edges) > 2:
            finite = _finite(value)
            aggregates += [F.count(F.when(finite < e, 1)).alias(f"h{i}_{k}")
                           for k, e in enumerate(edges[:-1])]
        expect = expects.get(p.name) or {}
        if p.numeric:
            if expect.get("min") is not None:
                aggregates.append(F.count(F.when(value < float(expect["min"]), 1))
                                  .alias(f"omin{i}"))
            if expect.get("max") is not None:
                aggregates.append(F.count(F.when(value > float(expect["max"]), 1))
                                  .alias(f"omax{i}"))
            if expect.get("values") is not None:
                wanted = _wanted_numbers(expect["values"])
                finite = _finite(value)
                outside = finite.isNotNull() & ~finite.isin(wanted) if wanted \
                    else finite.isNotNull()
                aggregates.append(F.count(F.when(outside, 1)).alias(f"oval{i}"))
        elif expect.get("values") is not None:
            wanted_text = sorted({_value_text(v) for v in expect["values"]})
            aggregates.append(F.count(F.when(value.isNotNull() & ~value.isin(wanted_text), 1))
                              .alias(f"oval{i}"))
    if not aggregates:
        return {}
    row = frame.agg(*aggregates).first()
    return row.asDict() if row is not None else {}


@dataclass
class _Values:
    """Per column: exact distinct count, and (value, count, first row) of the most frequent
    values (all values of columns with few)."""

    distinct: dict[int, int]
    top: dict[int, list[tuple[Any, int]]]


def _value_counts(frame: DataFrame, plans: list[ColumnPlan], first: Mapping[str, Any]
                  ) -> _Values:
    entries = []
    for p in plans:
        if p.numeric:
            value = _finite(_value(p))
            text = F.lit(None).cast("string")
            number = F.when(value == 0, F.lit(0.0)).otherwise(value)  # -0.0 is 0.0
        else:
            text, number = _text(p, frame), F.lit(None).cast("double")
        entries.append(F.struct(F.lit(p.index).alias("c"), number.alias("x"), text.alias("s")))
    order = F.struct(F.col("_metadata.file_path"), F.col("_metadata.row_index"))
    long = (frame.select(order.alias(ORDER), F.explode(F.array(*entries)).alias("e"))
            .select(ORDER, "e.c", "e.x", "e.s").where(F.col("x").isNotNull()
                                                       | F.col("s").isNotNull()))
    grouped = long.groupBy("c", "x", "s").agg(F.count(F.lit(1)).alias("k"),
                                              F.min(ORDER).alias("o"))
    ranked = grouped.withColumn("r", F.row_number().over(
        Window.partitionBy("c").orderBy(F.col("k").desc(), F.col("o"))))
    result = ranked.withColumn("d", F.count(F.lit(1)).over(Window.partitionBy("c")))
    keep = max(MAX_CATEGORIES, SMALL_NUMERIC_DISTINCT, TOP_VALUES)
    values = _Values({}, {})
    for row in result.where(F.col("r") <= keep).orderBy("c", "r").collect():
        values.distinct[row["c"]] = int(row["d"])
        values.top.setdefault(row["c"], []).append(
            (row["x"] if row["s"] is None else row["s"], int(row["k"])))
    return values


def _stats(plan: ColumnPlan, rows: int, first: Mapping[str, Any], second: Mapping[str, Any],
           values: _Values, is_boolean_text: bool) -> ColumnStats:
    i = plan.index
    count = int(first[f"n{i}"])
    stats = ColumnStats(plan.name, plan.kind, count, rows - count, 0)
    top = values.top.get(i, [])
    if plan.numeric:
        positive, negative = int(first[f"pi{i}"]), int(first[f"ni{i}"])
        stats.n_inf = positive + negative
        stats.distinct = values.distinct.get(i, 0) + (positive > 0) + (negative > 0)
        finite = int(first[f"f{i}"])
        if finite:
            stats.mean = _json_float(first[f"mean{i}"])
            std = first[f"std{i}"]
            stats.std = _json_float(std) if finite > 1 and std is not None else None
            stats.min, stats.max = _json_float(first[f"min{i}"]), _json_float(first[f"max{i}"])
            levels = first[f"q{i}"][: len(QUANTILES)]
            stats.quantiles = {q: _json_float(v) for q, v in zip(QUANTILES, levels, strict=True)}
            edges = _edges(first, plan) or []
            if len(edges) == 2:
                stats.histogram = {"edges": edges, "counts": [finite]}
            else:
                starts = [int(second[f"h{i}_{k}"]) for k in range(len(edges) - 1)] + [finite]
                counts = [b - a for a, b in zip(starts[:-1], starts[1:], strict=True)]
                stats.histogram = {"edges": edges, "counts": counts}
        if plan.kind == "boolean":
            stats.histogram = {"values": [v == 1.0 for v, _ in top[:TOP_VALUES]],
                               "counts": [k for _, k in top[:TOP_VALUES]]}
    else:
        stats.distinct = values.distinct.get(i, 0)
        shown = [(v == "True") if is_boolean_text else v for v, _ in top[:TOP_VALUES]]
        stats.histogram = {"values": shown, "counts": [k for _, k in top[:TOP_VALUES]]}
    stats.is_constant = stats.distinct <= 1
    return stats


def _shares(top: list[tuple[Any, int]], total: int, limit: int) -> dict[str, float]:
    denominator = float(total) or 1.0
    return {str(v): float(k) / denominator for v, k in top[:limit]}


def _profile(plan: ColumnPlan, rows: int, first: Mapping[str, Any], second: Mapping[str, Any],
             values: _Values, expect: Mapping[str, Any] | None) -> dict[str, Any]:
    i = plan.index
    count = int(first[f"n{i}"])
    profile: dict[str, Any] = {"version": 1, "rows": rows, "count": count,
                               "null_fraction": float(1 - count / rows) if rows else 0.0}
    top = values.top.get(i, [])
    if plan.numeric:
        finite = int(first[f"f{i}"])
        profile["kind"] = "numeric"
        profile["distinct"] = values.distinct.get(i, 0)
        if finite:
            profile["sketch"] = [float(v) for v in first[f"q{i}"][len(QUANTILES):]]
            std = first[f"std{i}"]
            profile["std"] = (_json_float(std) if std is not None else None) \
                if finite > 1 else 0.0
            profile["median_abs"] = float(first[f"medabs{i}"])
            profile["mean_abs"] = float(first[f"mabs{i}"])
            profile["min"], profile["max"] = float(first[f"min{i}"]), float(first[f"max{i}"])
        if profile["distinct"] <= SMALL_NUMERIC_DISTINCT:
            shares: dict[str, float] = {}
            for value, k in top:
                text = _number_text(value)
                shares[text] = shares.get(text, 0.0) + k
            denominator = float(finite) or 1.0
            profile["categories"] = {t: k / denominator for t, k in shares.items()}
            profile["categories_complete"] = True
    else:
        distinct = values.distinct.get(i, 0)
        profile["kind"] = "categorical"
        profile["distinct"] = distinct
        profile["categories"] = _shares(top, count, MAX_CATEGORIES)
        profile["categories_complete"] = distinct <= MAX_CATEGORIES
    if expect:
        n = count or 1
        check: dict[str, Any] = {"expect": dict(expect)}
        for rule, key in (("min", "omin"), ("max", "omax"), ("values", "oval")):
            if f"{key}{i}" in second:
                check[f"outside_{rule}"] = float(second[f"{key}{i}"]) / n
        profile["expect_check"] = check
    return profile


def profile_columns(frame: DataFrame, features: Sequence[str],
                    expects: Mapping[str, Mapping[str, Any]]
                    ) -> tuple[int, dict[str, ColumnStats], dict[str, dict[str, Any]]]:
    """(rows, statistics by feature, profiles by feature) of ``features`` in ``frame``."""
    plans = column_plans(frame, features)
    first = _first_pass(frame, plans)
    rows = int(first.get("rows", 0))
    second = _second_pass(frame, plans, first, expects)
    values = _value_counts(frame, plans, first)
    stats, profiles = {}, {}
    for p in plans:
        boolean_text = isinstance(frame.schema[p.name].dataType, T.BooleanType)
        stats[p.name] = _stats(p, rows, first, second, values, boolean_text)
        profiles[p.name] = _profile(p, rows, first, second, values, expects.get(p.name))
    return rows, stats, profiles
