"""Reading data snapshots (Parquet or CSV) into pandas data frames."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # pandas loads when a frame is built (`snapshot correlate` needs none)
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")
COLUMNS_PER_READ = 64
UNREADABLE = (OSError, ValueError, EOFError, zlib.error, pa.ArrowException)
"""What reading a file that is not a table raises (EOFError, zlib.error: a truncated or corrupt
``.csv.gz``; gzip's BadGzipFile is an OSError)."""


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
    import pandas as pd

    try:
        if file_format == "Parquet":
            return _read_parquet(file)
        return pd.read_csv(file, low_memory=False)
    except UNREADABLE as error:
        raise ValueError(f"{file}: cannot be read as {file_format}: {error}") from error


def column_names(path: str | Path) -> list[str]:
    """The column names exactly as the file has them (repeats included: pandas would rename a
    repeated CSV column ``x.1``). Raises ValueError when the file cannot be read."""
    import pandas as pd

    file = Path(path)
    name = file.name.lower()
    try:
        if name.endswith(PARQUET_SUFFIXES):
            schema = pq.read_schema(file)
            index = {n for n in (schema.pandas_metadata or {}).get("index_columns", [])
                     if isinstance(n, str)}
            return [str(n) for n in schema.names if n not in index]
        header = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
    except UNREADABLE as error:
        raise ValueError(f"{file}: cannot be read: {error}") from error
    return [str(v) for v in header.iloc[0].tolist()] if len(header) else []


def _read_parquet(file: Path) -> pd.DataFrame:
    """Read a group of columns at a time: decoding a whole file at once holds about three times
    the data in Arrow buffers, a group at a time only the data plus one group's buffers."""
    import pandas as pd

    with _system_memory_pool():  # the reader takes its allocator when it opens the file
        parquet = pq.ParquetFile(file)
        schema = parquet.schema_arrow
        index_columns = {
            name for name in (schema.pandas_metadata or {}).get("index_columns", [])
            if isinstance(name, str)
        }
        names = [name for name in schema.names if name not in index_columns]
        groups: list[list[str] | None] = [None]
        if len(names) > COLUMNS_PER_READ and len(set(names)) == len(names):
            groups = [names[s : s + COLUMNS_PER_READ]
                      for s in range(0, len(names), COLUMNS_PER_READ)]
        parts = [
            parquet.read(columns=group, use_pandas_metadata=True).to_pandas(
                split_blocks=True, self_destruct=True)
            for group in groups
        ]
    return parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)


@contextmanager
def _system_memory_pool() -> Iterator[None]:
    """Arrow's default allocator (mimalloc) keeps the decode buffers it frees, about half the
    data again for a wide file; the system allocator gives them back."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
