"""Correlated pairs of large samples: a float32 screen, then exact float64 for the candidates.

Only the pairs at or above a threshold are wanted, and almost every pair of a wide sample is
far below it. So the columns (centred values for Pearson, centred ranks for Spearman) go
through single-precision BLAS products, about twice as fast as double precision and half the
memory traffic, a chunk of rows at a time with the chunk sums added in float64. The error of
such a correlation is bounded, whatever the data: a chunk of m rows summed in float32 is off
by at most m·u·|x|·|y| (u = 2**-24; Cauchy-Schwarz over the chunks gives the same bound for
the whole), and dividing by norms taken from the same products at most doubles it; the screen
keeps every pair within 3·(m+2)·u of the threshold. Each candidate is then computed exactly
in float64 from its two columns, so the pairs and their values are those of the exact path
(`registry.analysis.correlation`), to rounding.

Used for columns without missing values (the others take the exact path), when the products
are large enough for the screen to pay, and while the candidates stay few.
"""

from __future__ import annotations

import numpy as np

from registry.analysis.numeric_columns import NumericColumns

SCREEN_CHUNK_ROWS = 8192
UNIT_ROUNDOFF = 2.0**-24
MARGIN = 3 * (SCREEN_CHUNK_ROWS + 2) * UNIT_ROUNDOFF
MIN_WORK = 2e8  # rows x columns² below which the exact path is as quick


def worth_screening(data: NumericColumns) -> bool:
    """No missing values, and enough products for single precision to pay."""
    c = data.complete_count
    return c == len(data.usable) and c >= 2 and data.rows * c * c >= MIN_WORK


def max_candidates(columns: int) -> int:
    """Past this many candidates, computing them one by one costs more than the exact GEMM."""
    return max(2_000, columns * columns // 50)


def screen(matrix: np.ndarray) -> np.ndarray:
    """Approximate correlations of the columns of ``matrix`` (rows x columns, float32, centred,
    column-major): float32 products of row chunks summed in float64, over their own
    diagonal."""
    rows, columns = matrix.shape
    sums = np.zeros((columns, columns))
    for start in range(0, rows, SCREEN_CHUNK_ROWS):
        chunk = matrix[start : start + SCREEN_CHUNK_ROWS]
        sums += chunk.T @ chunk
    diagonal = np.sqrt(np.diag(sums))
    with np.errstate(all="ignore"):
        return sums / diagonal[:, None] / diagonal[None, :]


def candidates(approximate: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Pairs (i < j) whose approximate |r| is within the screen's error of the threshold."""
    with np.errstate(invalid="ignore"):
        rows, cols = np.nonzero(np.triu(np.abs(approximate) >= threshold - MARGIN, 1))
    return set(zip(rows.tolist(), cols.tolist(), strict=True))


def centred_scaled(data: NumericColumns) -> np.ndarray:
    """The centred values as float32 (rows x columns, column-major), each column scaled by a
    power of two (exact) so that its largest deviation lies in [0.5, 1): no overflow, no
    underflow. Centred in float64 first, so large offsets lose nothing."""
    c = data.complete_count
    matrix = np.empty((data.rows, c), dtype=np.float32, order="F")
    deviations = np.empty(data.rows)
    for k in range(c):
        np.subtract(data.values[k], data.means[k], out=deviations)
        largest = max(-float(deviations.min()), float(deviations.max()))
        np.multiply(deviations, np.ldexp(1.0, -np.frexp(largest)[1]), out=matrix[:, k],
                    casting="same_kind")
    return matrix


def exact_pearson(data: NumericColumns, pairs: set[tuple[int, int]]) -> dict[tuple[int, int],
                                                                           float]:
    """Two-pass float64 Pearson of each pair (columns without missing values), each column
    scaled by a power of two against overflow and underflow."""
    centred: dict[int, np.ndarray] = {}
    squares: dict[int, float] = {}
    for k in sorted({k for pair in pairs for k in pair}):
        deviations = data.values[k] - data.means[k]
        centred[k] = np.ldexp(deviations, -np.frexp(np.abs(deviations).max())[1])
        squares[k] = float(centred[k] @ centred[k])
    return {(i, j): float(centred[i] @ centred[j] / np.sqrt(squares[i] * squares[j]))
            for i, j in pairs}


def exact_spearman(ranks: np.ndarray, pairs: set[tuple[int, int]]) -> dict[tuple[int, int],
                                                                          float]:
    """Spearman of each pair from the centred ranks (half-integers: float64 sums are exact)."""
    columns = {k: ranks[:, k].astype(np.float64) for k in sorted({k for p in pairs for k in p})}
    squares = {k: float(v @ v) for k, v in columns.items()}
    return {(i, j): float(columns[i] @ columns[j] / np.sqrt(squares[i] * squares[j]))
            for i, j in pairs}
