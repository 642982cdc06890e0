"""Raw usage logs (JSON Lines or Parquet) added up into daily read counts, by any engine.

The rules are those of `featreg usage ingest` (`registry.evidence.usage_events`): every line
or row is checked by the one validator, reads are added up per (UTC day, feature, principal)
with the first and last read time, and a line or row that cannot be taken is kept with its
number and reason. This module holds what every engine shares, so the engines differ only in
where the work runs:

* `parse_records`: Parquet rows (as dicts) through `parse_lines` as JSON text, so they are
  checked exactly as lines are; `arrow_records` turns an Arrow batch into such dicts (times
  with a timezone become ISO 8601 text in UTC; times without one stay without, so the
  validator refuses them as it refuses such text).
* `UsageAggregate`: the result an engine hands to the usage service, with `merge_cell` (how
  two partial counts of one cell combine) and a `fingerprint` of the content.
* `log_files` and `aggregate_locally`: the in-process engine (one file after another, in path
  order; line and row numbers count from 1 in each file).

Pure: no database, no Spark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from registry.evidence.usage_events import DailyReadCounts, LineStats, Rejection, parse_lines

__all__ = [
    "LogFormat",
    "UsageAggregate",
    "aggregate_locally",
    "arrow_records",
    "log_files",
    "log_format",
    "merge_cell",
    "parse_records",
    "record_text",
]

LogFormat = Literal["jsonl", "parquet"]
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
READ_BYTES = 4 * 2**20


def log_format(name: str) -> LogFormat:
    """The format a path names by its suffix (a folder's files decide for it)."""
    lower = name.lower().rstrip("/")
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise ValueError(f"{name}: usage logs must be JSON Lines ({', '.join(JSONL_SUFFIXES)}) or "
                     f"Parquet ({', '.join(PARQUET_SUFFIXES)})")


@dataclass
class UsageAggregate:
    """Daily read counts of some usage logs, with what was rejected.

    ``stats`` counts events, lines and rejections (reads and names are tallied by the service
    against the catalog); ``rejections`` keep their line (row) number within their file, and
    their reason names the file when there are several.
    """

    files: list[str]
    counts: DailyReadCounts = field(default_factory=DailyReadCounts)
    stats: LineStats = field(default_factory=LineStats)
    rejections: list[Rejection] = field(default_factory=list)

    def fingerprint(self) -> str:
        """SHA-256 of the content (cells and rejections in a canonical order): the same logs
        give the same fingerprint wherever they were added up."""
        hasher = hashlib.sha256()
        for (day, feature, principal), cell in sorted(self.counts.cells.items()):
            hasher.update(orjson.dumps([day.isoformat(), feature, principal, cell[0],
                                        cell[1].isoformat(), cell[2].isoformat()]))
        for rejection in sorted(self.rejections, key=lambda r: (r.reason, r.line_number)):
            hasher.update(orjson.dumps([rejection.line_number, rejection.raw, rejection.reason]))
        return hasher.hexdigest()

    def cell_rows(self) -> list[tuple[date, str, str, int, datetime, datetime]]:
        """(day, feature, principal, reads, first read, last read), sorted: for comparisons."""
        return sorted((day, feature, principal, cell[0], cell[1], cell[2])
                      for (day, feature, principal), cell in self.counts.cells.items())


def merge_cell(a: list[Any], b: list[Any]) -> list[Any]:
    """Two partial counts of one (day, feature, principal): reads added, times widened."""
    return [a[0] + b[0], min(a[1], b[1]), max(a[2], b[2])]


def record_text(record: dict[str, Any]) -> bytes:
    """A Parquet row as the JSON text kept with a rejection."""
    return orjson.dumps(record, default=str)


def _times_as_text(batch: Any) -> Any:
    """Timestamp columns as ISO 8601 text, in UTC with ``+00:00`` when they have a timezone
    and without an offset when they have none (vectorised: Arrow formats them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        kind = column.type
        if pa.types.is_timestamp(kind):
            if kind.tz is not None:
                utc = column.cast(pa.timestamp(kind.unit, "UTC"))
                column = pc.binary_join_element_wise(
                    pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S"), "+00:00", "")
            else:
                column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def arrow_records(batch: Any) -> list[dict[str, Any]]:
    """Rows of an Arrow record batch as event dicts: null fields left out, times as text."""
    rows: list[dict[str, Any]] = _times_as_text(batch).to_pylist()
    return [{key: value for key, value in row.items() if value is not None} for row in rows]


def parse_records(records: Sequence[dict[str, Any]], numbers: Sequence[int],
                  counts: DailyReadCounts, stats: LineStats, rejections: list[Rejection],
                  prefix: str = "") -> None:
    """Parquet rows (row number ``numbers[i]``) checked and added up exactly as JSON Lines
    are: each row as JSON text through `parse_lines` (its fast path, and `validate_event` for
    anything unusual); bad rows go to ``rejections`` (reason prefixed with ``prefix``)."""
    texts = [record_text(record) for record in records]
    found: list[Rejection] = []
    start = 0
    for end in range(1, len(texts) + 1):  # runs of consecutive row numbers
        if end == len(texts) or numbers[end] != numbers[end - 1] + 1:
            parse_lines(texts[start:end], numbers[start], counts, stats, found)
            start = end
    rejections.extend(Rejection(r.line_number, r.raw, prefix + r.reason) for r in found)


def file_prefix(name: str, several: bool) -> str:
    """What a rejection's reason starts with: the file's name when an input has several."""
    return f"{name}: " if several else ""


def log_files(path: str | Path) -> list[Path]:
    """A log file, or every log file (by suffix) in a folder, in path order."""
    root = Path(path)
    if root.is_file():
        log_format(root.name)
        return [root]
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.is_file()
                       and p.name.lower().endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES)
                       and not p.name.startswith(("_", ".")))
        if not found:
            raise ValueError(f"{root}: no usage log files (JSON Lines or Parquet) in the folder")
        formats = {log_format(p.name) for p in found}
        if len(formats) > 1:
            raise ValueError(f"{root}: mixes JSON Lines and Parquet files; give one format")
        return found
    raise ValueError(f"{root}: no such file or folder")


def _jsonl_lines(path: Path) -> Iterator[list[bytes]]:
    opener: Any = open
    if path.name.lower().endswith(".gz"):
        import gzip

        opener = gzip.open
    with opener(path, "rb") as file:
        pending = b""
        while block := file.read(READ_BYTES):
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            yield lines
        if pending:
            yield [pending]


def _add_jsonl(path: Path, prefix: str, aggregate: UsageAggregate) -> None:
    number = 1
    rejections: list[Rejection] = []
    for lines in _jsonl_lines(path):
        parse_lines(lines, number, aggregate.counts, aggregate.stats, rejections)
        number += len(lines)
    aggregate.rejections.extend(Rejection(r.line_number, r.raw, prefix + r.reason)
                                for r in rejections)


def _add_parquet(path: Path, prefix: str, aggregate: UsageAggregate) -> None:
    import pyarrow.parquet as pq

    number = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
        records = arrow_records(batch)
        parse_records(records, range(number, number + len(records)), aggregate.counts,
                      aggregate.stats, aggregate.rejections, prefix)
        number += len(records)


def aggregate_locally(paths: Iterable[str | Path]) -> UsageAggregate:
    """Add up usage logs in this process (each path a file or a folder of files)."""
    files = [file for path in paths for file in log_files(path)]
    aggregate = UsageAggregate([str(f) for f in files])
    for file in files:
        prefix = file_prefix(file.name, len(files) > 1)
        if log_format(file.name) == "parquet":
            _add_parquet(file, prefix, aggregate)
        else:
            _add_jsonl(file, prefix, aggregate)
    return aggregate
