"""Usage logs added up on Spark: the same validator and the same daily cells as in process.

Each Spark task runs the in-process code (`registry.evidence.usage_events.parse_lines` for
JSON Lines, `registry.engines.usage_logs.parse_records` for Parquet rows) on its share of the
lines, so what is taken and why a line is refused cannot differ from `featreg usage ingest`.
Partial cells are combined with ``reduceByKey`` (reads added, first and last read widened)
and only the daily cells, the rejected lines and three counters reach the driver: memory on
the driver follows the number of (day, feature, principal) cells, not the number of events.

Line numbers count from 1 in each file: JSON Lines files are numbered with ``zipWithIndex``
(one small counting job per file of several splits), Parquet rows with Spark's
``_metadata.row_index``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from registry.engines.spark_session import quiet
from registry.engines.usage_logs import (
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    UsageAggregate,
    arrow_records,
    file_prefix,
    log_format,
    merge_cell,
    parse_records,
)
from registry.evidence.usage_events import DailyReadCounts, LineStats, Rejection, parse_lines

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["aggregate_on_spark"]

LINES_PER_PARSE = 50_000

Item = tuple[tuple[Any, ...], Any]


def _emit(counts: DailyReadCounts, stats: LineStats, rejections: list[Rejection],
          file_index: int) -> Iterator[Item]:
    for key, cell in counts.cells.items():
        yield ("C", *key), cell
    for r in rejections:
        yield ("R", file_index, r.line_number), (r.line_number, r.raw, r.reason)
    yield ("S",), [stats.events, stats.lines, stats.rejected]


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, list) and len(a) == 3 and not isinstance(a[1], int):
        return merge_cell(a, b)
    if isinstance(a, list):
        return [x + y for x, y in zip(a, b, strict=True)]
    return a  # a rejected line appears once


def _parse_partition(file_index: int, prefix: str, rows: Iterable[tuple[bytes, int]]
                     ) -> Iterator[Item]:
    """JSON Lines of one split (with their 0-based index in the file), parsed in runs of
    consecutive lines."""
    counts, stats, rejections = DailyReadCounts(), LineStats(), list[Rejection]()
    run: list[bytes] = []
    first = 0
    for line, index in rows:
        if run and (index != first + len(run) or len(run) >= LINES_PER_PARSE):
            parse_lines(run, first + 1, counts, stats, rejections)
            run = []
        if not run:
            first = index
        run.append(line)
    if run:
        parse_lines(run, first + 1, counts, stats, rejections)
    named = [Rejection(r.line_number, r.raw, prefix + r.reason) for r in rejections]
    yield from _emit(counts, stats, named, file_index)


def _jsonl_items(spark: SparkSession, files: list[str]) -> Any:
    sc = spark.sparkContext
    several = len(files) > 1
    parts = []
    for index, uri in enumerate(files):
        prefix = file_prefix(PurePosixPath(urlparse(uri).path).name, several)
        lines = sc.textFile(uri, use_unicode=False).zipWithIndex()
        parts.append(lines.mapPartitions(partial(_parse_partition, index, prefix)))
    return sc.union(parts)


def _file_key(uri: str) -> str:
    return urlparse(uri).path.rstrip("/")


def _parquet_items(spark: SparkSession, files: list[str]) -> Any:
    several = len(files) > 1
    index_of = {_file_key(uri): i for i, uri in enumerate(files)}

    def parse_batches(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            paths = batch.column("__file").to_pylist()
            numbers = [n + 1 for n in batch.column("__row").to_pylist()]
            data = batch.drop_columns(["__file", "__row"])
            records = arrow_records(data)
            by_file: dict[str, list[int]] = {}
            for position, path in enumerate(paths):
                by_file.setdefault(path, []).append(position)
            items: list[Item] = []
            for path, positions in by_file.items():
                counts, stats, rejections = DailyReadCounts(), LineStats(), list[Rejection]()
                name = PurePosixPath(_file_key(path)).name
                parse_records([records[p] for p in positions], [numbers[p] for p in positions],
                              counts, stats, rejections, file_prefix(name, several))
                items.extend(_emit(counts, stats, rejections, index_of.get(_file_key(path), 0)))
            yield pa.RecordBatch.from_pylist([{"blob": pickle.dumps(items)}])

    frame = spark.read.parquet(*files)
    frame = frame.selectExpr("*", "_metadata.file_path AS __file", "_metadata.row_index AS __row")
    with quiet():
        blobs = frame.mapInArrow(parse_batches, "blob binary")
    return blobs.rdd.flatMap(lambda row: pickle.loads(row.blob))


def aggregate_on_spark(spark: SparkSession, uris: list[str]) -> UsageAggregate:
    """Add up the usage logs at ``uris`` (files, folders or globs on any Hadoop file system)."""
    from registry.engines.spark_session import input_files

    formats = {log_format(uri) for uri in uris if not uri.rstrip("/").endswith(("*", "/"))
               and "." in PurePosixPath(uri).name}
    suffixes = JSONL_SUFFIXES + PARQUET_SUFFIXES
    files = sorted({f for uri in uris for f in input_files(spark, uri, suffixes)})
    formats |= {log_format(f) for f in files}
    if len(formats) > 1:
        raise ValueError(f"{', '.join(uris)}: mixes JSON Lines and Parquet files; give one "
                         "format")
    items = (_parquet_items if formats == {"parquet"} else _jsonl_items)(spark, files)
    aggregate = UsageAggregate(files)
    stats = aggregate.stats
    rejected: list[tuple[int, int, Rejection]] = []
    for key, value in items.reduceByKey(_merge).collect():
        if key[0] == "C":
            aggregate.counts.cells[key[1:]] = value
        elif key[0] == "R":
            rejected.append((key[1], key[2], Rejection(*value)))
        else:
            stats.events, stats.lines, stats.rejected = value
    aggregate.rejections = [r for _f, _n, r in sorted(rejected, key=lambda x: (x[0], x[1]))]
    return aggregate
