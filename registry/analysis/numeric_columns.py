"""The numeric columns of a frame, prepared once for every pairwise correlation sum.

Numeric and boolean columns as float64 arrays with ±inf turned into NaN, split into columns
without missing values (first) and columns with some, each with its mean and (for the second
kind) its mask of present values; constant and all-missing columns are left out. Both the
Pearson sums (`registry.analysis.correlation`) and the Spearman ranks
(`registry.analysis.spearman`) read them a chunk of rows at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

CHUNK_BYTES = 32 * 2**20  # one chunk of rows of centred values


class NumericColumns:
    """The numeric columns of a frame as float64 arrays with ±inf turned into NaN.

    ``usable`` lists the positions (in ``names``) of the columns that can correlate at all --
    at least two finite values, not all equal -- those without missing values first; every
    other attribute is indexed like ``usable``.
    """

    def __init__(self, frame: pd.DataFrame, columns: Sequence[str] | None,
                 chunk_rows: int | None = None) -> None:
        names, arrays = _frame_columns(frame, columns)
        self._prepare(names, arrays, len(frame), chunk_rows)

    @classmethod
    def from_arrays(cls, names: Sequence[str], arrays: Sequence[np.ndarray], rows: int,
                    chunk_rows: int | None = None) -> NumericColumns:
        """Float64 columns of ``rows`` values each (NaN where missing), no pandas involved."""
        data = cls.__new__(cls)
        data._prepare(list(names), list(arrays), rows, chunk_rows)
        return data

    def _prepare(self, names: list[str], arrays: list[np.ndarray], rows: int,
                 chunk_rows: int | None) -> None:
        self.names = names
        self.rows = rows
        complete: list[tuple[int, np.ndarray, float, None]] = []
        partial: list[tuple[int, np.ndarray, float, np.ndarray | None]] = []
        with np.errstate(all="ignore"):
            for index, values in enumerate(arrays):
                total = values.sum()
                if self.rows >= 2 and np.isfinite(total):
                    if varies(values):
                        complete.append((index, values, total / self.rows, None))
                    continue
                finite = np.isfinite(values)
                present = values[finite]
                if present.size >= 2 and varies(present):
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
        """Consecutive row ranges; a chunk of ``width`` float64 columns takes ~CHUNK_BYTES."""
        step = self.chunk_rows or max(256, CHUNK_BYTES // (8 * max(1, width)))
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


def _frame_columns(frame: pd.DataFrame,
                   columns: Sequence[str] | None) -> tuple[list[str], list[np.ndarray]]:
    """The numeric and boolean columns of a frame (of ``columns`` only, when given)."""
    from registry.analysis.column_stats import as_float_array, column_kind

    if columns is not None:
        unknown = sorted(set(columns) - {str(c) for c in frame.columns})
        if unknown:
            raise ValueError(f"unknown columns: {', '.join(unknown)}")
    wanted = None if columns is None else set(columns)
    selected = [frame.iloc[:, p] for p, name in enumerate(frame.columns)
                if wanted is None or str(name) in wanted]
    numeric = [s for s in selected if column_kind(s) in ("numeric", "boolean")]
    return [str(s.name) for s in numeric], [as_float_array(s) for s in numeric]


def varies(values: np.ndarray) -> bool:
    """Not all equal (finite values); the first few values almost always settle it."""
    head = values[:64]
    return bool(head.min() < head.max() or values.min() < values.max())
