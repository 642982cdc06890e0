"""Correlated pairs of a data file, read the quickest way: a Parquet file's numeric columns go
straight from pyarrow into float64 arrays (`registry.analysis.parquet_columns`, no pandas); a
CSV file is read by pandas (`registry.analysis.frame_io`)."""

from __future__ import annotations

from pathlib import Path

from registry.analysis.correlation import CorrelatedPair, Method, pairs_among
from registry.analysis.numeric_columns import NumericColumns


def correlated_pairs_in_file(path: str | Path, threshold: float = 0.8,
                             method: Method = "both") -> list[CorrelatedPair]:
    """`registry.analysis.correlation.correlated_pairs` of the file's numeric columns. Raises
    ValueError naming the file when it cannot be read or has another extension."""
    from registry.analysis.frame_io import PARQUET_SUFFIXES

    file = Path(path)
    if file.name.lower().endswith(PARQUET_SUFFIXES):
        from registry.analysis.parquet_columns import read_numeric_columns

        names, arrays = read_numeric_columns(file)
        data = NumericColumns.from_arrays(names, arrays, len(arrays[0]) if arrays else 0)
    else:
        from registry.analysis.frame_io import read_frame

        data = NumericColumns(read_frame(file), None)
    return pairs_among(data, threshold, method)
