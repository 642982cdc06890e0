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

How it is fast: columns without missing values are centred and scaled (float64) and every pair
comes from one BLAS product ``Z.T @ Z``; Spearman does the same on ranks. Pairs with a column
that has missing values use masked products (sums of x, x², y, y², xy and counts over each
pair's common rows) -- still BLAS -- and any pair whose masked sums cancel badly is recomputed
directly. Spearman pairs with missing values must be ranked on their common rows: each column
is sorted once, and a pair's ranks come from a cumulative count of common rows in that order
(linear in rows, vectorised over columns). Columns are processed in blocks so the working copies
stay within ``memory_budget`` bytes.
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
DEFAULT_MEMORY_BUDGET = 512 * 2**20
_CANCELLATION_LIMIT = 100.0  # masked sums that lose more than this factor are recomputed
_CHUNK_BYTES = 64 * 2**20  # per-thread working set when re-ranking Spearman pairs
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
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[CorrelatedPair]:
    """Pairs of numeric columns with |r| >= ``threshold`` (for ``both``: either |r|)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    methods: tuple[Literal["pearson", "spearman"], ...] = (
        ("pearson", "spearman") if method == "both" else (method,))
    matrices = [correlation_matrix(frame, m, columns, memory_budget=memory_budget)
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
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> CorrelationMatrix:
    """Correlation of every pair of numeric columns (see the module docstring)."""
    _check_methods((method,))
    data = _NumericColumns(frame, columns)
    k = len(data.usable)
    values = np.full((k, k), np.nan)
    counts = np.zeros((k, k), dtype=np.int64)
    with np.errstate(all="ignore"):
        if method == "pearson":
            _pearson(data, values, counts, memory_budget)
        else:
            _spearman(data, values, counts, memory_budget)
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

    def __init__(self, frame: pd.DataFrame, columns: Sequence[str] | None) -> None:
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
        complete: list[tuple[int, np.ndarray]] = []
        partial: list[tuple[int, np.ndarray, np.ndarray]] = []
        with np.errstate(all="ignore"):
            for index, series in enumerate(numeric):
                values = as_float_array(series)
                if self.rows >= 2 and np.isfinite(values.sum()):
                    if values.min() < values.max():
                        complete.append((index, values))
                    continue
                finite = np.isfinite(values)
                present = values[finite]
                if present.size >= 2 and present.min() < present.max():
                    partial.append((index, np.where(finite, values, np.nan), finite))
        self.complete_count = len(complete)
        self.usable = [c[0] for c in complete] + [p[0] for p in partial]
        self.values = [c[1] for c in complete] + [p[1] for p in partial]
        self.finite: list[np.ndarray | None] = [None] * len(complete) + [p[2] for p in partial]
        self.counts = np.array([self.rows] * len(complete) + [int(p[2].sum()) for p in partial],
                               dtype=np.int64)

    def blocks(self, partial: bool, budget: int, arrays_per_column: int) -> list[np.ndarray]:
        """Index blocks over the complete (or the partial) usable columns: one block when they
        fit in ``budget`` bytes, else blocks of which two fit."""
        start, end = (self.complete_count, len(self.usable)) if partial else (
            0, self.complete_count)
        column_bytes = max(1, self.rows) * 8 * arrays_per_column
        if (end - start) * column_bytes <= budget:
            width = max(1, end - start)
        else:
            width = max(1, budget // (2 * column_bytes))
        return [np.arange(s, min(s + width, end)) for s in range(start, end, width)]


@dataclass
class _Block:
    index: np.ndarray  # usable-column indices
    z: np.ndarray  # (rows, width) Fortran order, centred and scaled, 0 where missing
    mask: np.ndarray | None  # (rows, width) 0/1 float64, None when no value is missing


def _standardised(data: _NumericColumns, index: np.ndarray) -> _Block:
    z = np.empty((data.rows, len(index)), order="F")
    mask = None if data.finite[index[0]] is None else np.empty_like(z)
    for k, c in enumerate(index.tolist()):
        values, finite = data.values[c], data.finite[c]
        if finite is None:
            np.subtract(values, values.mean(), out=z[:, k])
        else:
            mask[:, k] = finite  # type: ignore[index]
            np.subtract(values, values[finite].mean(), out=z[:, k])
            z[~finite, k] = 0.0
    z *= 1.0 / np.sqrt(np.einsum("ij,ij->j", z, z))
    return _Block(index, z, mask)


def _pearson(data: _NumericColumns, values: np.ndarray, counts: np.ndarray, budget: int) -> None:
    blocks = data.blocks(False, budget, 1) + data.blocks(True, budget, 3)
    for position, index in enumerate(blocks):
        first = _standardised(data, index)
        for other_index in blocks[position:]:
            second = first if other_index is index else _standardised(data, other_index)
            r, n = _pearson_block(data, first, second)
            where, mirror = np.ix_(first.index, second.index), np.ix_(second.index, first.index)
            values[where], counts[where] = r, n
            values[mirror], counts[mirror] = r.T, n.T


def _pearson_block(data: _NumericColumns, x: _Block, y: _Block) -> tuple[np.ndarray, np.ndarray]:
    sxy = x.z.T @ y.z
    if x.mask is None and y.mask is None:
        return sxy, np.full(sxy.shape, data.rows, dtype=np.int64)
    n = _masked_product(x.mask, y.mask, data.counts[x.index], data.counts[y.index])
    sx, sxx = _sums_where_present(x.z, y.mask, sxy.shape)
    sy_t, syy_t = _sums_where_present(y.z, x.mask, sxy.shape[::-1])
    sy, syy = sy_t.T, syy_t.T
    var_x = sxx - sx * sx / n
    var_y = syy - sy * sy / n
    r = (sxy - sx * sy / n) / np.sqrt(var_x * var_y)
    r[n < 2] = np.nan
    unstable = (n >= 2) & ((var_x * _CANCELLATION_LIMIT <= sxx)
                           | (var_y * _CANCELLATION_LIMIT <= syy))
    for i, j in zip(*np.nonzero(unstable), strict=True):
        r[i, j] = _direct_pearson(data, int(x.index[i]), int(y.index[j]))
    return r, np.rint(n).astype(np.int64)


def _masked_product(mx: np.ndarray | None, my: np.ndarray | None, count_x: np.ndarray,
                    count_y: np.ndarray) -> np.ndarray:
    if mx is not None and my is not None:
        return np.asarray(mx.T @ my)
    if mx is not None:
        return np.repeat(count_x[:, None].astype(np.float64), len(count_y), axis=1)
    return np.repeat(count_y[None, :].astype(np.float64), len(count_x), axis=0)


def _sums_where_present(z: np.ndarray, other_mask: np.ndarray | None,
                        shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sums of z and z² over the rows where each column of the other block is present."""
    if other_mask is None:
        return (np.broadcast_to(z.sum(axis=0)[:, None], shape),
                np.broadcast_to(np.einsum("ij,ij->j", z, z)[:, None], shape))
    return z.T @ other_mask, (z * z).T @ other_mask


def _direct_pearson(data: _NumericColumns, i: int, j: int) -> float:
    both = np.isfinite(data.values[i]) & np.isfinite(data.values[j])
    x, y = data.values[i][both], data.values[j][both]
    if x.size < 2 or x.min() == x.max() or y.min() == y.max():
        return np.nan
    dx, dy = x - x.mean(), y - y.mean()
    return float(dx @ dy / np.sqrt((dx @ dx) * (dy @ dy)))


class _SortOrders:
    """Each usable column's row order by value (missing rows last), sorted once."""

    def __init__(self, data: _NumericColumns) -> None:
        self.data = data
        dtype = np.int32 if data.rows < 2**31 else np.int64
        self.order = np.empty((len(data.usable), data.rows), dtype=dtype)
        self.has_ties = np.zeros(len(data.usable), dtype=bool)
        with ThreadPoolExecutor(_workers()) as pool:
            list(pool.map(self._sort, range(len(data.usable))))

    def _sort(self, c: int) -> None:
        self.order[c] = np.argsort(self.data.values[c])
        ordered = self.sorted_values(c)
        self.has_ties[c] = bool((ordered[1:] == ordered[:-1]).any())

    def present(self, c: int) -> np.ndarray:
        return np.asarray(self.order[c, : self.data.counts[c]])

    def sorted_values(self, c: int) -> np.ndarray:
        return np.asarray(self.data.values[c][self.present(c)])

    def tie_bounds(self, c: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Per sorted position: first position of its run of equal values and one past its last."""
        if not self.has_ties[c]:
            return None
        ordered = self.sorted_values(c)
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], ordered.size]
        return np.repeat(starts, ends - starts), np.repeat(ends, ends - starts)

    def ranks_among(self, c: int, member: np.ndarray) -> np.ndarray:
        """Average ranks (1-based) of column c among the sorted positions where ``member`` holds.

        Only the entries where ``member`` is true are meaningful.
        """
        running = np.cumsum(member, dtype=np.int64)
        bounds = self.tie_bounds(c)
        if bounds is None:
            return running.astype(np.float64)
        before = np.concatenate(([0], running))
        return np.asarray((before[bounds[0]] + before[bounds[1]] + 1) / 2.0)

    def row_ranks(self, c: int) -> np.ndarray:
        """Ranks of column c among its present values, by row (0 where missing)."""
        ranks = np.zeros(self.data.rows)
        ranks[self.present(c)] = self.ranks_among(c, np.ones(self.data.counts[c], dtype=bool))
        return ranks


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _spearman(data: _NumericColumns, values: np.ndarray, counts: np.ndarray, budget: int) -> None:
    orders = _SortOrders(data)

    centred_positions = np.arange(1, data.rows + 1) - (data.rows + 1) / 2.0

    def ranked(index: np.ndarray) -> _Block:
        z = np.empty((data.rows, len(index)), order="F")
        for k, c in enumerate(index.tolist()):
            if orders.has_ties[c]:
                z[:, k] = orders.row_ranks(c) - (data.rows + 1) / 2.0
            else:
                z[orders.order[c], k] = centred_positions
        z *= 1.0 / np.sqrt(np.einsum("ij,ij->j", z, z))
        return _Block(index, z, None)

    blocks = data.blocks(False, budget, 1)
    for position, index in enumerate(blocks):
        first = ranked(index)
        for other_index in blocks[position:]:
            second = first if other_index is index else ranked(other_index)
            where, mirror = np.ix_(first.index, second.index), np.ix_(second.index, first.index)
            values[where] = first.z.T @ second.z
            values[mirror] = values[where].T
            counts[where] = counts[mirror] = data.rows
    partial = range(data.complete_count, len(data.usable))
    with ThreadPoolExecutor(_workers()) as pool:
        list(pool.map(lambda i: _spearman_partial(orders, i, values, counts), partial))


def _spearman_partial(orders: _SortOrders, i: int, values: np.ndarray,
                      counts: np.ndarray) -> None:
    """Spearman of partial column i with every complete column and every later partial one."""
    data = orders.data
    a_by_row = orders.row_ranks(i)  # x_i's ranks among its present rows, 0 where missing
    n = int(data.counts[i])
    mean = (n + 1) / 2.0
    saa = float(((a_by_row[a_by_row > 0] - mean) ** 2).sum())
    width = max(1, _CHUNK_BYTES // (max(1, data.rows) * 24))
    # Complete partner j: the common rows are x_i's present rows, so x_i keeps its own ranks
    # and only y_j is re-ranked, by counting x_i's present rows in y_j's sorted order.
    for start in range(0, data.complete_count, width):
        stop = min(start + width, data.complete_count)
        a = np.take(a_by_row, orders.order[start:stop])  # x_i's ranks in y_j's order
        member = a > 0
        b: np.ndarray = np.cumsum(member, axis=1, dtype=np.int32 if n < 2**31 else np.int64)
        sbb = np.full(stop - start, (n**3 - n) / 12.0)
        tied = np.flatnonzero(orders.has_ties[start:stop]).tolist()
        if tied:  # average ranks of ties can be halves
            b = b.astype(np.float64)
        for k in tied:
            b[k] = orders.ranks_among(start + k, member[k])
            sbb[k] = float((((b[k] - mean) * member[k]) ** 2).sum())
        sab = np.einsum("ij,ij->i", a, b) - n * mean * mean
        r = np.where(sbb > 0, sab / np.sqrt(saa * np.where(sbb > 0, sbb, 1.0)), np.nan)
        values[i, start:stop] = values[start:stop, i] = r
        counts[i, start:stop] = counts[start:stop, i] = n
    for j in range(i + 1, len(data.usable)):
        r_ij, n_ij = _spearman_both_partial(orders, i, j)
        values[i, j] = values[j, i] = r_ij
        counts[i, j] = counts[j, i] = n_ij


def _spearman_both_partial(orders: _SortOrders, i: int, j: int) -> tuple[float, int]:
    """Spearman of two columns with missing values: both ranked on their common rows."""
    data = orders.data
    finite_i, finite_j = data.finite[i], data.finite[j]
    assert finite_i is not None and finite_j is not None
    rows_i, rows_j = orders.present(i), orders.present(j)
    member_i = finite_j[rows_i]  # common rows, in x_i's sorted order
    member_j = finite_i[rows_j]  # common rows, in y_j's sorted order
    n = int(member_j.sum())
    if n < 2:
        return np.nan, n
    a_by_row = np.zeros(data.rows)
    a_by_row[rows_i] = orders.ranks_among(i, member_i) * member_i
    mean = (n + 1) / 2.0
    da = (a_by_row[rows_j] - mean) * member_j
    db = (orders.ranks_among(j, member_j) - mean) * member_j
    saa, sbb = float(da @ da), float(db @ db)
    if saa == 0.0 or sbb == 0.0:
        return np.nan, n
    return float(da @ db) / np.sqrt(saa * sbb), n
