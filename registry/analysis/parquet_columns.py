"""The numeric columns of a Parquet file read straight into float64 arrays with pyarrow.

For `featreg snapshot correlate` on a file: no pandas frame in between (pandas alone takes
about half a second to import). The columns are those a pandas frame read by
`registry.analysis.frame_io.read_frame` would offer the correlation: integer, floating and
boolean columns (booleans as 0/1, nulls as NaN), in file order, without the pandas index
columns; every other type (strings, timestamps, decimals, dictionaries, nested) is skipped,
as `registry.analysis.column_stats.column_kind` skips it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

COLUMNS_PER_READ = 64


def is_numeric(field_type: pa.DataType) -> bool:
    return bool(pa.types.is_integer(field_type) or pa.types.is_floating(field_type)
                or pa.types.is_boolean(field_type))


def read_numeric_columns(path: str | Path) -> tuple[list[str], list[np.ndarray]]:
    """Names and float64 arrays of the numeric columns of a Parquet file. Raises ValueError
    naming the file when it cannot be read."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file}: no such file")
    try:
        parquet = pq.ParquetFile(file)
        schema = parquet.schema_arrow
        metadata = schema.pandas_metadata or {}
        index_columns = {n for n in metadata.get("index_columns", []) if isinstance(n, str)}
        nullable_bool = {c.get("field_name") for c in metadata.get("columns", [])
                         if c.get("numpy_type") == "boolean"}
        wanted = [i for i, f in enumerate(schema)
                  if f.name not in index_columns and is_numeric(f.type)]
        if len(set(schema.names)) != len(schema.names):  # repeated names: by position
            table = parquet.read()
            columns = [(schema.field(i).name, table.column(i)) for i in wanted]
        else:
            columns = []
            for start in range(0, len(wanted), COLUMNS_PER_READ):
                group = [schema.field(i).name for i in wanted[start : start + COLUMNS_PER_READ]]
                table = parquet.read(columns=group)
                columns.extend(zip(group, table.columns, strict=True))
        # pandas reads a boolean column with nulls as objects (not numeric) unless it was
        # written from pandas' nullable "boolean" dtype
        kept = [(name, column) for name, column in columns
                if not (pa.types.is_boolean(column.type) and column.null_count
                        and name not in nullable_bool)]
        return [name for name, _ in kept], [as_float64(column) for _, column in kept]
    except (OSError, pa.ArrowException) as error:
        raise ValueError(f"{file}: cannot be read as Parquet: {error}") from error


def as_float64(column: pa.ChunkedArray) -> np.ndarray:
    """One column as a float64 array, nulls (and NaN) as NaN; booleans as 0/1."""
    if column.num_chunks != 1:
        column = column.combine_chunks()
    array = column.chunk(0) if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_float64(array.type):
        array = pc.cast(array, pa.float64())
    if array.null_count:
        array = pc.fill_null(array, np.nan)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
