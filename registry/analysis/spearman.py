"""Spearman correlation of prepared numeric columns, pairwise-complete like pandas.

Every column is sorted once. Columns without missing values get centred ranks (half-integers,
exact in float32), whose BLAS products give their Spearman correlations exactly; a pair with
missing values is re-ranked on its common rows by a cumulative count of those rows in each
column's sorted order (linear in rows, vectorised, threaded). Called by
`registry.analysis.correlation`, which documents the semantics.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from registry.analysis.numeric_columns import NumericColumns

RERANK_BYTES = 64 * 2**20  # per-thread working set when re-ranking Spearman pairs


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


class Ranks:
    """Every usable column sorted once. Keeps the centred ranks of the complete columns (exact
    in float32 below 2**24 rows) and, when some columns miss values, every column's row order
    (missing rows last) for re-ranking pairs on their common rows."""

    def __init__(self, data: NumericColumns) -> None:
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


def spearman(data: NumericColumns, values: np.ndarray, counts: np.ndarray) -> None:
    ranks = Ranks(data)
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


def _spearman_partial(ranks: Ranks, i: int, values: np.ndarray, counts: np.ndarray) -> None:
    """Spearman of partial column i with every complete column and every later partial one."""
    data = ranks.data
    a_by_row = ranks.row_ranks(i)  # x_i's ranks among its present rows, 0 where missing
    n = int(data.counts[i])
    mean = (n + 1) / 2.0
    saa = float(((a_by_row[a_by_row > 0] - mean) ** 2).sum())
    width = max(1, RERANK_BYTES // (max(1, data.rows) * 24))
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


def _spearman_both_partial(ranks: Ranks, i: int, j: int) -> tuple[float, int]:
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
