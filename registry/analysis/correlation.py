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
rows, vectorised, threaded; `registry.analysis.spearman`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from registry.analysis import correlation_screen
from registry.analysis.numeric_columns import NumericColumns
from registry.analysis.spearman import Ranks, spearman

if TYPE_CHECKING:
    import pandas as pd

Method = Literal["pearson", "spearman", "both"]
_Methods = tuple[Literal["pearson", "spearman"], ...]
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
        import pandas as pd

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
    return pairs_among(NumericColumns(frame, columns, chunk_rows), threshold, method)


def pairs_among(data: NumericColumns, threshold: float = 0.8, method: Method = "both", *,
                screen: bool | None = None) -> list[CorrelatedPair]:
    """`correlated_pairs` of prepared columns. Large samples without missing values go through
    a float32 screen and exact candidates (`registry.analysis.correlation_screen`; ``screen``
    forces it on or off), with the same pairs and values."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    methods: _Methods = ("pearson", "spearman") if method == "both" else (method,)
    _check_methods(methods)
    if screen is None:
        screen = correlation_screen.worth_screening(data)
    if screen and data.complete_count == len(data.usable):
        found = _screened_pairs(data, threshold, methods)
        if found is not None:
            return found
    matrices = [_matrix(data, m) for m in methods]
    with np.errstate(invalid="ignore"):
        strength = np.fmax.reduce([np.abs(m.values) for m in matrices])
        rows, cols = np.nonzero(np.triu(strength >= threshold, 1))
    value_of = {m: matrices[k].values for k, m in enumerate(methods)}
    exact = [
        (i, j, _number(value_of["pearson"][i, j]) if "pearson" in value_of else None,
         _number(value_of["spearman"][i, j]) if "spearman" in value_of else None,
         int(max(m.n[i, j] for m in matrices)))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    return _sorted_pairs(data.names, exact)


def _screened_pairs(data: NumericColumns, threshold: float,
                    methods: _Methods) -> list[CorrelatedPair] | None:
    """Pairs of columns without missing values through the float32 screen; None when too
    many candidates pass it (the exact matrices are quicker then)."""
    c, screen = data.complete_count, correlation_screen
    approximate, ranks = [], None
    if "pearson" in methods:
        approximate.append(screen.screen(screen.centred_scaled(data)))
    if "spearman" in methods:
        ranks = Ranks(data).centred
        approximate.append(screen.screen(np.asarray(ranks, dtype=np.float32, order="F")))
    candidates = set().union(*(screen.candidates(a, threshold) for a in approximate))
    if len(candidates) > screen.max_candidates(c):
        return None
    pearson = screen.exact_pearson(data, candidates) if "pearson" in methods else {}
    spearman_r = screen.exact_spearman(ranks, candidates) if ranks is not None else {}
    found = []
    for i, j in candidates:
        p, s = pearson.get((i, j)), spearman_r.get((i, j))
        p, s = (None if v is None else min(1.0, max(-1.0, v)) for v in (p, s))
        if max(abs(v) for v in (p, s) if v is not None) >= threshold:
            found.append((data.usable[i], data.usable[j], p, s, data.rows))
    return _sorted_pairs(data.names, found)


def _sorted_pairs(names: Sequence[str],
                  found: list[tuple[int, int, float | None, float | None, int]]
                  ) -> list[CorrelatedPair]:
    """Pairs (positions in ``names``) by decreasing strength, then by column positions."""
    pairs = [(i, j, CorrelatedPair(a=names[i], b=names[j], pearson=p, spearman=s, n=n))
             for i, j, p, s, n in found]
    pairs.sort(key=lambda t: (-round(t[2].strength, _TIE_DECIMALS), t[0], t[1]))
    return [pair for _, _, pair in pairs]


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
    return _matrix(NumericColumns(frame, columns, chunk_rows), method)


def _matrix(data: NumericColumns, method: Literal["pearson", "spearman"]) -> CorrelationMatrix:
    k = len(data.usable)
    values = np.full((k, k), np.nan)
    counts = np.zeros((k, k), dtype=np.int64)
    with np.errstate(all="ignore"):
        if method == "pearson":
            _pearson(data, values, counts)
        else:
            spearman(data, values, counts)
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


def _pearson(data: NumericColumns, values: np.ndarray, counts: np.ndarray) -> None:
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


def _masked_pearson(data: NumericColumns, sxy: np.ndarray, n: np.ndarray, sx: np.ndarray,
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


def _recompute(data: NumericColumns, r: np.ndarray, shaky: np.ndarray, rows_of: range,
               cols_of: range) -> np.ndarray:
    for i, j in zip(*np.nonzero(shaky), strict=True):
        r[i, j] = _direct_pearson(data, rows_of[i], cols_of[j])
    return r


def _direct_pearson(data: NumericColumns, i: int, j: int) -> float:
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
