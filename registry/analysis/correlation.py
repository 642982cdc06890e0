"""Exact, fast pairwise Pearson and Spearman correlation of the numeric columns of a frame.

Results equal ``pandas.DataFrame.corr()`` (default ``min_periods=1``) to about 1e-12:

* Numeric and boolean columns take part (booleans as 0/1, nullable dtypes with NA as missing);
  categorical, string, datetime and complex columns are ignored.
* ±inf is missing, exactly like NaN (pandas masks ±inf too).
* Pearson uses, for each pair, the rows where both values are present (pairwise-complete).
* Spearman ranks (average ranks for ties), for each pair, the pairwise-complete values of both
  columns and correlates the ranks, as pandas does; without missing values this is Pearson on
  whole-column ranks. One pandas quirk is not copied: when two columns miss exactly the same
  rows and one holds -inf, pandas ranks the -inf before dropping it (which shifts the ranks);
  here -inf is missing before ranking, as if it were NaN.
* A pair is undefined (NaN in a matrix, never reported as a pair) when it has fewer than two
  pairwise-complete rows or either column is constant on them. Constant and all-missing
  columns are therefore never correlated.
* ``CorrelatedPair.a`` comes before ``b`` in the frame's column order. Pairs are sorted by
  decreasing ``max(|pearson|, |spearman|)`` rounded to 12 decimals (so last-bit noise cannot
  reorder ties such as exact copies), then by the column positions of ``a`` and ``b``.

How it is fast: every sum a correlation needs (of xy, x, x², y, y² and counts over each pair's
common rows) adds up over rows, so the columns are centred a chunk of rows at a time (a few
tens of MB, cache-sized) and each chunk adds its BLAS products -- ``Z.T @ Z`` for columns with
no missing values, masked products for the others -- to K x K accumulators. Every value is
centred once, and memory is the frame plus one chunk plus the accumulators. Pairs whose masked
sums cancel badly (or overflow) are recomputed directly. Spearman sorts each column once; the
centred ranks of complete columns are half-integers, exact in float32, so their sums are exact.
Spearman pairs with missing values are ranked on their common rows, as pandas does: a pair's
ranks come from a cumulative count of common rows in each column's sorted order (linear in
rows, vectorised, threaded).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from registry.analysis.column_stats import as_float_array, column_kind

Method = Literal["pearson", "spearman", "both"]
_Methods = tuple[Literal["pearson", "spearman"], ...]
_CHUNK_BYTES = 32 * 2**20  # one chunk of rows of centred values
_RERANK_BYTES = 64 * 2**20  # per-thread working set when re-ranking Spearman pairs
_CANCELLATION_LIMIT = 100.0  # masked sums that lose more than this factor are recomputed
_TINY = 1e-250  # sums of squares below this may have lost digits to underflow
_TIE_DECIMALS = 12  # strengths equal to this many decimals are ordered by column position


@dataclass(frozen=True)
class CorrelatedPair:
    """Correlation of columns ``a`` and ``b`` (``a`` first in column order) over ``n`` rows."""

    a: str
    b: str
    pearson: float | None
    spearman: float | None
    n: int

    @property
    def strength(self) -> float:
        """The larger of |pearson| and |spearman| that were computed."""
        return max((abs(v) for v in (self.pearson, self.spearman) if v is not None), default=0.0)

    def to_dict(self) -> dict[str, str | float | int | None]:
        return {"a": self.a, "b": self.b, "pearson": self.pearson, "spearman": self.spearman,
                "n": self.n}


@dataclass(frozen=True)
class CorrelationMatrix:
    """All numeric columns against each other: ``values`` is NaN where a pair is undefined and
    ``n`` counts the pairwise-complete rows behind each defined value (0 where undefined)."""

    columns: tuple[str, ...]
    values: np.ndarray
    n: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=list(self.columns), columns=list(self.columns))


def correlated_pairs(
    frame: pd.DataFrame,
    threshold: float = 0.8,
    method: Method = "both",
    columns: list[str] | None = None,
    *,
    chunk_rows: int | None = None,
) -> list[CorrelatedPair]:
    """Pairs of numeric columns with |r| >= ``threshold`` (for ``both``: either |r|)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    methods: tuple[Literal["pearson", "spearman"], ...] = (
        ("pearson", "spearman") if method == "both" else (method,))
    matrices = [correlation_matrix(frame, m, columns, chunk_rows=chunk_rows)
                for m in _check_methods(methods)]
    with np.errstate(invalid="ignore"):
        strength = np.fmax.reduce([np.abs(m.values) for m in matrices])
        rows, cols = np.nonzero(np.triu(strength >= threshold, 1))
    value_of = {m: matrices[k].values for k, m in enumerate(methods)}
    names = matrices[0].columns
    pairs = [
        CorrelatedPair(
            a=names[i], b=names[j],
            pearson=_number(value_of["pearson"][i, j]) if "pearson" in value_of else None,
            spearman=_number(value_of["spearman"][i, j]) if "spearman" in value_of else None,
            n=int(max(m.n[i, j] for m in matrices)),
        )
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    order = sorted(range(len(pairs)),
                   key=lambda k: (-round(pairs[k].strength, _TIE_DECIMALS), rows[k], cols[k]))
    return [pairs[k] for k in order]


def correlation_matrix(
    frame: pd.DataFrame,
    method: Literal["pearson", "spearman"] = "pearson",
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int | None = None,
) -> CorrelationMatrix:
    """Correlation of every pair of numeric columns (see the module docstring).

    ``chunk_rows`` (rows summed per step) only trades speed for memory; by default a chunk of
    all columns takes about 32 MB.
    """
    _check_methods((method,))
    data = _NumericColumns(frame, columns, chunk_rows)
    k = len(data.usable)
    values = np.full((k, k), np.nan)
    counts = np.zeros((k, k), dtype=np.int64)
    with np.errstate(all="ignore"):
        if method == "pearson":
            _pearson(data, values, counts)
        else:
            _spearman(data, values, counts)
    np.clip(values, -1.0, 1.0, out=values)
    values[np.arange(k), np.arange(k)] = 1.0
    counts[np.arange(k), np.arange(k)] = data.counts
    counts[np.isnan(values)] = 0
    full = np.full((len(data.names),) * 2, np.nan)
    full_counts = np.zeros(full.shape, dtype=np.int64)
    where = np.ix_(data.usable, data.usable)
    full[where], full_counts[where] = values, counts
    return CorrelationMatrix(tuple(data.names), full, full_counts)


def _check_methods(methods: _Methods) -> _Methods:
    for method in methods:
        if method not in ("pearson", "spearman"):
            raise ValueError(f"unknown correlation method {method!r}: use pearson, spearman or "
                             "both")
    return methods


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


class _NumericColumns:
    """The numeric columns of a frame as float64 arrays with ±inf turned into NaN.

    ``usable`` lists the positions (in ``names``) of the columns that can correlate at all --
    at least two finite values, not all equal -- those without missing values first; every
    other attribute is indexed like ``usable``.
    """

    def __init__(self, frame: pd.DataFrame, columns: Sequence[str] | None,
                 chunk_rows: int | None = None) -> None:
        if columns is not None:
            unknown = sorted(set(columns) - {str(c) for c in frame.columns})
            if unknown:
                raise ValueError(f"unknown columns: {', '.join(unknown)}")
        wanted = None if columns is None else set(columns)
        selected = [frame.iloc[:, p] for p, name in enumerate(frame.columns)
                    if wanted is None or str(name) in wanted]
        numeric = [s for s in selected if column_kind(s) in ("numeric", "boolean")]
        self.names = [str(s.name) for s in numeric]
        self.rows = len(frame)
        complete: list[tuple[int, np.ndarray, float, None]] = []
        partial: list[tuple[int, np.ndarray, float, np.ndarray | None]] = []
        with np.errstate(all="ignore"):
            for index, series in enumerate(numeric):
                values = as_float_array(series)
                total = values.sum()
                if self.rows >= 2 and np.isfinite(total):
                    if _varies(values):
                        complete.append((index, values, total / self.rows, None))
                    continue
                finite = np.isfinite(values)
                present = values[finite]
                if present.size >= 2 and _varies(present):
                    if np.isinf(values).any():  # copy only to turn ±inf into NaN
                        values = np.where(finite, values, np.nan)
                    partial.append((index, values, present.mean(), finite))
        columns_kept = complete + partial
        self.complete_count = len(complete)
        self.usable = [c[0] for c in columns_kept]
        self.values = [c[1] for c in columns_kept]
        self.means = [float(c[2]) for c in columns_kept]
        self.finite: list[np.ndarray | None] = [c[3] for c in columns_kept]
        self.counts = np.array([self.rows if f is None else int(f.sum()) for f in self.finite],
                               dtype=np.int64)
        self.chunk_rows = chunk_rows

    def row_chunks(self, width: int) -> list[slice]:
        """Consecutive row ranges; a chunk of ``width`` float64 columns takes ~_CHUNK_BYTES."""
        step = self.chunk_rows or max(256, _CHUNK_BYTES // (8 * max(1, width)))
        return [slice(s, min(s + step, self.rows)) for s in range(0, self.rows, step)]

    def centred(self, index: range, rows: slice) -> np.ndarray:
        """Rows of columns ``index`` minus their means, 0 where missing (column-major)."""
        chunk = np.empty((rows.stop - rows.start, len(index)), order="F")
        for k, c in enumerate(index):
            np.subtract(self.values[c][rows], self.means[c], out=chunk[:, k])
        if index and self.finite[index[0]] is not None:
            np.nan_to_num(chunk, copy=False, nan=0.0)
        return chunk

    def present(self, index: range, rows: slice) -> np.ndarray:
        """Rows of columns ``index`` as 1 where a value is present, 0 where missing."""
        chunk = np.empty((rows.stop - rows.start, len(index)), order="F")
        for k, c in enumerate(index):
            finite = self.finite[c]
            chunk[:, k] = 1.0 if finite is None else finite[rows]
        return chunk


def _varies(values: np.ndarray) -> bool:
    """Not all equal (finite values); the first few values almost always settle it."""
    head = values[:64]
    return bool(head.min() < head.max() or values.min() < values.max())


def _pearson(data: _NumericColumns, values: np.ndarray, counts: np.ndarray) -> None:
    c, k = data.complete_count, len(data.usable)
    complete, partial = range(c), range(c, k)
    p = len(partial)
    xy_cc = np.zeros((c, c))
    xy_pc, y_pc, yy_pc = np.zeros((p, c)), np.zeros((p, c)), np.zeros((p, c))
    xy_pp, n_pp, x_pp, xx_pp = (np.zeros((p, p)) for _ in range(4))
    for rows in data.row_chunks(k):
        zc = data.centred(complete, rows)
        xy_cc += zc.T @ zc
        if p:
            zp, mp = data.centred(partial, rows), data.present(partial, rows)
            xy_pc += zp.T @ zc
            y_pc += mp.T @ zc
            yy_pc += mp.T @ (zc * zc)
            xy_pp += zp.T @ zp
            n_pp += mp.T @ mp
            x_pp += zp.T @ mp
            xx_pp += (zp * zp).T @ mp
    norms = np.sqrt(np.diag(xy_cc))
    r_cc = xy_cc / norms[:, None] / norms[None, :]
    shaky = ~np.isfinite(r_cc) | (np.diag(xy_cc) < _TINY)[:, None]
    r_cc = _recompute(data, r_cc, shaky, complete, complete)
    values[:c, :c], counts[:c, :c] = r_cc, data.rows
    # sums over all rows of each partial column: the common rows with any complete column
    x_p, xx_p = np.diag(x_pp)[:, None], np.diag(xx_pp)[:, None]
    n_p = data.counts[c:, None].astype(np.float64)
    r_pc = _masked_pearson(data, xy_pc, n_p, x_p, xx_p, y_pc, yy_pc, partial, complete)
    values[c:, :c], values[:c, c:] = r_pc, r_pc.T
    counts[c:, :c], counts[:c, c:] = data.counts[c:, None], data.counts[None, c:]
    r_pp = _masked_pearson(data, xy_pp, n_pp, x_pp, xx_pp, x_pp.T, xx_pp.T, partial, partial)
    values[c:, c:], counts[c:, c:] = r_pp, np.rint(n_pp).astype(np.int64)


def _masked_pearson(data: _NumericColumns, sxy: np.ndarray, n: np.ndarray, sx: np.ndarray,
                    sxx: np.ndarray, sy: np.ndarray, syy: np.ndarray, rows_of: range,
                    cols_of: range) -> np.ndarray:
    """Pearson from sums over each pair's common rows (x: rows_of, y: cols_of)."""
    var_x = sxx - sx * sx / n
    var_y = syy - sy * sy / n
    r = (sxy - sx * sy / n) / np.sqrt(var_x * var_y)
    r = np.where(n < 2, np.nan, r)
    shaky = (n >= 2) & (~np.isfinite(r) | (var_x * _CANCELLATION_LIMIT <= sxx)
                        | (var_y * _CANCELLATION_LIMIT <= syy) | (sxx < _TINY) | (syy < _TINY))
    return _recompute(data, r, shaky, rows_of, cols_of)


def _recompute(data: _NumericColumns, r: np.ndarray, shaky: np.ndarray, rows_of: range,
               cols_of: range) -> np.ndarray:
    for i, j in zip(*np.nonzero(shaky), strict=True):
        r[i, j] = _direct_pearson(data, rows_of[i], cols_of[j])
    return r


def _direct_pearson(data: _NumericColumns, i: int, j: int) -> float:
    """Two-pass Pearson of one pair, scaled by powers of two against overflow and underflow."""
    both = np.isfinite(data.values[i]) & np.isfinite(data.values[j])
    x, y = data.values[i][both], data.values[j][both]
    if x.size < 2 or x.min() == x.max() or y.min() == y.max():
        return np.nan
    x = np.ldexp(x, -np.frexp(np.abs(x).max())[1])
    y = np.ldexp(y, -np.frexp(np.abs(y).max())[1])
    dx, dy = x - x.mean(), y - y.mean()
    dx = np.ldexp(dx, -np.frexp(np.abs(dx).max())[1])
    dy = np.ldexp(dy, -np.frexp(np.abs(dy).max())[1])
    return float(dx @ dy / np.sqrt(dx @ dx) / np.sqrt(dy @ dy))


def _tie_bounds(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For sorted values with ties: per position, the first position of its run of equal values
    and one past its last; None without ties."""
    equal_next = ordered[1:] == ordered[:-1]
    if not equal_next.any():
        return None
    starts = np.flatnonzero(np.concatenate(([True], ~equal_next)))
    ends = np.concatenate((starts[1:], [ordered.size]))
    return np.repeat(starts, ends - starts), np.repeat(ends, ends - starts)


def _ranks_among(member: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Average ranks (1-based) among the sorted positions where ``member`` holds (only those
    entries are meaningful)."""
    running = np.cumsum(member, dtype=np.int64)
    if bounds is None:
        return running.astype(np.float64)
    before = np.concatenate(([0], running))
    return np.asarray((before[bounds[0]] + before[bounds[1]] + 1) / 2.0)


class _Ranks:
    """Every usable column sorted once. Keeps the centred ranks of the complete columns (exact
    in float32 below 2**24 rows) and, when some columns miss values, every column's row order
    (missing rows last) for re-ranking pairs on their common rows."""

    def __init__(self, data: _NumericColumns) -> None:
        self.data = data
        k, c = len(data.usable), data.complete_count
        index_type = np.int32 if data.rows < 2**31 else np.int64
        self.order = np.empty((k if c < k else 0, data.rows), dtype=index_type)
        self.has_ties = np.zeros(k, dtype=bool)
        rank_type = np.float32 if data.rows < 2**24 else np.float64
        self.centred = np.empty((data.rows, c), dtype=rank_type, order="F")
        with ThreadPoolExecutor(_workers()) as pool:
            list(pool.map(self._sort, range(k)))

    def _sort(self, c: int) -> None:
        order = np.argsort(self.data.values[c])
        count = int(self.data.counts[c])
        bounds = _tie_bounds(self.data.values[c][order[:count]])
        self.has_ties[c] = bounds is not None
        if len(self.order):
            self.order[c] = order
        if c < self.data.complete_count:
            ranks = _ranks_among(np.ones(count, dtype=bool), bounds)
            self.centred[order, c] = ranks - (count + 1) / 2.0

    def present(self, c: int) -> np.ndarray:
        return np.asarray(self.order[c, : self.data.counts[c]])

    def ranks_among(self, c: int, member: np.ndarray) -> np.ndarray:
        bounds = None
        if self.has_ties[c]:
            bounds = _tie_bounds(self.data.values[c][self.present(c)])
        return _ranks_among(member, bounds)

    def row_ranks(self, c: int) -> np.ndarray:
        """Ranks of column c among its present values, by row (0 where missing)."""
        ranks = np.zeros(self.data.rows)
        ranks[self.present(c)] = self.ranks_among(c, np.ones(self.data.counts[c], dtype=bool))
        return ranks


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _spearman(data: _NumericColumns, values: np.ndarray, counts: np.ndarray) -> None:
    ranks = _Ranks(data)
    c = data.complete_count
    sums = np.zeros((c, c))
    for rows in data.row_chunks(c):
        chunk = ranks.centred[rows].astype(np.float64)
        sums += chunk.T @ chunk
    norms = np.sqrt(np.diag(sums))
    values[:c, :c] = sums / norms[:, None] / norms[None, :]
    counts[:c, :c] = data.rows
    partial = range(c, len(data.usable))
    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(lambda i: _spearman_partial(ranks, i, values, counts), partial))


def _spearman_partial(ranks: _Ranks, i: int, values: np.ndarray, counts: np.ndarray) -> None:
    """Spearman of partial column i with every complete column and every later partial one."""
    data = ranks.data
    a_by_row = ranks.row_ranks(i)  # x_i's ranks among its present rows, 0 where missing
    n = int(data.counts[i])
    mean = (n + 1) / 2.0
    saa = float(((a_by_row[a_by_row > 0] - mean) ** 2).sum())
    width = max(1, _RERANK_BYTES // (max(1, data.rows) * 24))
    # Complete partner j: the common rows are x_i's present rows, so x_i keeps its own ranks
    # and only y_j is re-ranked, by counting x_i's present rows in y_j's sorted order.
    for start in range(0, data.complete_count, width):
        stop = min(start + width, data.complete_count)
        a = np.take(a_by_row, ranks.order[start:stop])  # x_i's ranks in y_j's order
        member = a > 0
        b: np.ndarray = np.cumsum(member, axis=1, dtype=np.int32 if n < 2**31 else np.int64)
        sbb = np.full(stop - start, (n**3 - n) / 12.0)
        tied = np.flatnonzero(ranks.has_ties[start:stop]).tolist()
        if tied:  # average ranks of ties can be halves
            b = b.astype(np.float64)
        for k in tied:
            b[k] = ranks.ranks_among(start + k, member[k])
            sbb[k] = float((((b[k] - mean) * member[k]) ** 2).sum())
        sab = np.einsum("ij,ij->i", a, b) - n * mean * mean
        r = np.where(sbb > 0, sab / np.sqrt(saa * np.where(sbb > 0, sbb, 1.0)), np.nan)
        values[i, start:stop] = values[start:stop, i] = r
        counts[i, start:stop] = counts[start:stop, i] = n
    for j in range(i + 1, len(data.usable)):
        r_ij, n_ij = _spearman_both_partial(ranks, i, j)
        values[i, j] = values[j, i] = r_ij
        counts[i, j] = counts[j, i] = n_ij


def _spearman_both_partial(ranks: _Ranks, i: int, j: int) -> tuple[float, int]:
    """Spearman of two columns with missing values: both ranked on their common rows."""
    data = ranks.data
    finite_i, finite_j = data.finite[i], data.finite[j]
    assert finite_i is not None and finite_j is not None
    rows_i, rows_j = ranks.present(i), ranks.present(j)
    member_i = finite_j[rows_i]  # common rows, in x_i's sorted order
    member_j = finite_i[rows_j]  # common rows, in y_j's sorted order
    n = int(member_j.sum())
    if n < 2:
        return np.nan, n
    a_by_row = np.zeros(data.rows)
    a_by_row[rows_i] = ranks.ranks_among(i, member_i) * member_i
    mean = (n + 1) / 2.0
    da = (a_by_row[rows_j] - mean) * member_j
    db = (ranks.ranks_among(j, member_j) - mean) * member_j
    saa, sbb = float(da @ da), float(db @ db)
    if saa == 0.0 or sbb == 0.0:
        return np.nan, n
    return float(da @ db) / np.sqrt(saa * sbb), n
