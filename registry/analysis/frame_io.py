"""Reading data snapshots (Parquet or CSV) into pandas data frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a Parquet (``.parquet``, ``.pq``) or CSV (``.csv``, ``.csv.gz``) file.

    Raises ``ValueError`` naming the file when it is missing, has another extension, or cannot
    be parsed.
    """
    file = Path(path)
    name = file.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        file_format = "Parquet"
    elif name.endswith(CSV_SUFFIXES):
        file_format = "CSV"
    else:
        expected = ", ".join(PARQUET_SUFFIXES + CSV_SUFFIXES)
        raise ValueError(f"{file}: unsupported file type (expected one of {expected})")
    if not file.is_file():
        raise ValueError(f"{file}: no such file")
    try:
        if file_format == "Parquet":
            return _read_parquet(file)
        return pd.read_csv(file, low_memory=False)
    except (OSError, ValueError, pa.ArrowException) as error:
        raise ValueError(f"{file}: cannot be read as {file_format}: {error}") from error


def _read_parquet(file: Path) -> pd.DataFrame:
    # One block per column, and Arrow buffers released while converting: the peak stays close
    # to one copy of the data instead of two.
    table = pq.read_table(file)
    return table.to_pandas(split_blocks=True, self_destruct=True)
