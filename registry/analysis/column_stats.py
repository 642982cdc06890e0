"""Per-column statistics of a data snapshot.

Every value in a :class:`ColumnStats` is JSON-safe once passed through ``to_dict()``: NaN and
±inf become ``None``, numpy scalars become Python ones, quantile keys become strings.

Conventions (shared by every kind of column):

* ``count`` is the number of non-null values (±inf counts as a value), ``nulls`` the number of
  missing ones (None, NaN, NaT, pandas NA); ``count + nulls`` is the number of rows.
* ``distinct`` is the exact number of distinct non-null values (±inf included).
* ``is_constant`` is true when there is at most one distinct non-null value, so an all-null or
  empty column is constant.
* Numeric and boolean columns: mean, std (sample, ``ddof=1`` like pandas), min, max, quantiles
  (linear interpolation, like pandas and numpy) and the histogram use the finite values only;
  ``n_inf`` counts the ±inf values left out. Booleans are 0/1, so their mean is the share of
  ``True``.
* Histograms: numeric and datetime columns have ``{"edges": [...21], "counts": [...20]}``
  (numpy.histogram); boolean and categorical columns have ``{"values": [...], "counts": [...]}``
  with the 20 most frequent values (ties broken by first appearance).
* Datetime columns report min, max, mean and quantiles as ISO 8601 strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

ColumnKind = Literal["numeric", "boolean", "categorical", "datetime"]
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_VALUES = 20

Scalar = float | str | None
Histogram = dict[str, list[Any]]


def column_kind(series: pd.Series) -> ColumnKind:
    """How a column is treated: numbers, booleans (0/1), timestamps, or anything else."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
        return "numeric"
    return "categorical"


def as_float_array(series: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float64 (booleans as 0/1, missing values as NaN).

    Float64 numpy columns come back without a copy; treat the result as read-only.
    """
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
        return np.asarray(series.to_numpy(dtype=np.float64, copy=False))
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))


@dataclass
class ColumnStats:
    """Summary of one column of a snapshot (see the module docstring for conventions)."""

    name: str
    kind: ColumnKind
    count: int
    nulls: int
    distinct: int
    mean: Scalar = None
    std: float | None = None
    min: Scalar = None
    max: Scalar = None
    quantiles: dict[float, Scalar] = field(default_factory=dict)
    histogram: Histogram | None = None
    n_inf: int = 0
    is_constant: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (no NaN or inf anywhere)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "distinct": self.distinct,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "quantiles": {str(q): value for q, value in self.quantiles.items()},
            "histogram": None if self.histogram is None else dict(self.histogram),
            "n_inf": self.n_inf,
            "is_constant": self.is_constant,
        }


def compute_column_stats(frame: pd.DataFrame) -> dict[str, ColumnStats]:
    """Statistics of every column, keyed by column name (as a string)."""
    return {
        str(name): column_stats(frame.iloc[:, position], str(name))
        for position, name in enumerate(frame.columns)
    }


def column_stats(series: pd.Series, name: str | None = None) -> ColumnStats:
    """Statistics of one column; never raises on empty, constant, null or odd values."""
    kind = column_kind(series)
    nulls = int(series.isna().sum())
    stats = ColumnStats(
        name=str(series.name) if name is None else name,
        kind=kind,
        count=len(series) - nulls,
        nulls=nulls,
        distinct=0,
    )
    if kind in ("numeric", "boolean"):
        _fill_numeric(stats, as_float_array(series))
        if kind == "boolean":
            stats.histogram = _top_values(series.dropna().astype(bool))
    else:
        stats.distinct = _distinct(series)
        if kind == "datetime":
            _fill_datetime(stats, series)
        else:
            stats.histogram = _top_values(series.dropna())
    stats.is_constant = stats.distinct <= 1
    return stats


def _fill_numeric(stats: ColumnStats, values: np.ndarray) -> None:
    """One sort of the finite values gives distinct values, quantiles and the histogram."""
    finite = np.sort(values[np.isfinite(values)])
    positive_inf, negative_inf = int(np.isposinf(values).sum()), int(np.isneginf(values).sum())
    stats.n_inf = positive_inf + negative_inf
    runs = int(np.count_nonzero(finite[1:] != finite[:-1])) + 1 if finite.size else 0
    stats.distinct = runs + (positive_inf > 0) + (negative_inf > 0)
    if finite.size == 0:
        return
    with np.errstate(all="ignore"):
        stats.mean = _json_float(finite.mean())
        stats.std = _json_float(finite.std(ddof=1)) if finite.size > 1 else None
        stats.min = _json_float(finite[0])
        stats.max = _json_float(finite[-1])
        levels = np.quantile(finite, QUANTILES)
        stats.quantiles = {q: _json_float(v) for q, v in zip(QUANTILES, levels, strict=True)}
        stats.histogram = _histogram(finite)


def _fill_datetime(stats: ColumnStats, series: pd.Series) -> None:
    present = series.dropna()
    if present.empty:
        return
    stats.min, stats.max = present.min().isoformat(), present.max().isoformat()
    stats.mean = present.mean().isoformat()
    levels = present.quantile(list(QUANTILES))
    stats.quantiles = {q: stamp.isoformat() for q, stamp in zip(QUANTILES, levels, strict=True)}
    tz = getattr(present.dt, "tz", None)
    naive = present.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else present
    nanoseconds = naive.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
    histogram = _histogram(np.sort(nanoseconds))

    def iso(value: float) -> str:
        stamp = pd.Timestamp(int(round(value)), unit="ns")
        return str((stamp.tz_localize("UTC").tz_convert(tz) if tz is not None else stamp)
                   .isoformat())

    stats.histogram = {"edges": [iso(e) for e in histogram["edges"]],
                       "counts": histogram["counts"]}


def _histogram(ordered: np.ndarray) -> Histogram:
    """numpy.histogram's bins and counts (each bin [left, right), the last one closed) from
    sorted finite values; one bin when the range is too narrow to split or too wide to hold."""
    low, high = float(ordered[0]), float(ordered[-1])
    try:
        if not np.isfinite(high - low):
            raise ValueError("range too wide")
        edges = np.histogram_bin_edges(ordered, bins=HISTOGRAM_BINS)
    except ValueError:
        return {"edges": [low, high], "counts": [int(ordered.size)]}
    starts = np.searchsorted(ordered, edges[:-1], side="left")
    counts = np.diff(np.concatenate((starts, [ordered.size])))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _distinct(series: pd.Series) -> int:
    try:
        return int(series.nunique(dropna=True))
    except TypeError:  # unhashable values, e.g. vectors stored as lists
        return int(series.dropna().map(repr).nunique())


def _top_values(present: pd.Series) -> Histogram:
    try:
        counts = present.value_counts(sort=True)
    except TypeError:  # unhashable values
        counts = present.map(repr).value_counts(sort=True)
    top = counts.iloc[:TOP_VALUES]
    return {
        "values": [_json_value(v) for v in top.index],
        "counts": [int(c) for c in top.to_numpy()],
    }


def _json_float(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _json_value(value: Any) -> Any:
    """A value as JSON can hold it: bool, int, finite float or str."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _json_float(value)
    if isinstance(value, str):
        return value
    return str(value)
