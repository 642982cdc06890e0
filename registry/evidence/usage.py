"""Usage ingestion: the one usage service. Every way in stores reads through here.

- `ingest_usage_file` / `ingest_usage_stream`: JSON Lines files or stdin (``featreg usage
  ingest``), idempotent (rule below), bad lines kept with their reason.
- `record_usage`: events and daily counts from the API (``POST /api/v1/usage``), the SDK's
  direct transport (`Client.log_usage`) and the batching logger of either transport; all or
  nothing.

Both check each item with `registry.evidence.usage_events` (`validate_event` for events,
`validate_count` for daily counts) and store the aggregate with `store_daily_counts`; they
take the caller's Session and never commit (the entry point owns the unit of work).

Raw events are never stored one row per event. A file is streamed in blocks of
`CHUNK_BYTES`; each block's lines are parsed and added up in memory per (UTC day, feature,
principal) (`registry.evidence.usage_events.DailyReadCounts`), and the counts are upserted
into ``usage_daily`` (``INSERT ... ON CONFLICT DO UPDATE``: reads added, first/last read
widened) whenever `MAX_PENDING_CELLS` cells are pending and at the end. Memory therefore
depends on the number of distinct cells pending, not on the size of the file.

Principals and features are kept by name: a principal that is not a registered consumer and a
feature that is not in the catalog are stored like any other (the summary counts them). A line
that cannot be taken is stored in ``usage_rejections`` with its line number, its text (first
``RAW_TEXT_LIMIT`` characters) and the reason, and the rest of the file is still taken.

Idempotency rule (re-ingesting never double-counts):
    Every ingest records the SHA-256 and length of the whole content it read. Before reading,
    the longest earlier ingest whose content is an exact prefix of the new content is found,
    and the new content is taken from where that ingest ended. So the same file again (or the
    same bytes piped to ``-``) adds nothing, and a log file that has grown by appending adds
    only its new lines (numbered as in the file). If the earlier content ended inside a line
    (a writer was mid-line), that line -- rejected then as cut short -- is read again whole.
    Other overlaps -- the same events in a differently arranged file -- are not detected.
    ``-`` (stdin) is first copied to a temporary file so it is hashed the same way.
    One ingest is one transaction: counts, rejected lines and the ingest record are committed
    together, so an interrupted ingest leaves nothing behind and can simply be run again.
    Concurrent ingests are serialised (a transaction-scoped advisory lock on PostgreSQL;
    SQLite has a single writer). Events and counts from the SDK and API are not
    de-duplicated: each call reports new reads.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from sqlalchemy import Table, case, insert, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, NotFound, Problem
from registry.evidence.usage_events import (
    DailyReadCounts,
    LineStats,
    Rejection,
    UsageEvent,
    UsageItem,
    parse_lines,
    validate_item,
)
from registry.store import models as m

if TYPE_CHECKING:
    from registry.engines.usage_logs import UsageAggregate

__all__ = [
    "CHUNK_BYTES",
    "MAX_PENDING_CELLS",
    "RejectedLine",
    "UsageIngestSummary",
    "ingest_usage_aggregate",
    "ingest_usage_file",
    "ingest_usage_stream",
    "record_usage",
    "rejected_lines",
    "store_daily_counts",
]

CHUNK_BYTES = 4 * 2**20
"""Bytes read and parsed at a time."""
MAX_PENDING_CELLS = 200_000
"""Distinct (day, feature, principal) cells held in memory before they are upserted."""
REJECTION_BATCH = 5_000
"""Rejected lines held in memory before they are inserted."""

INGEST_LOCK_KEY = 0x66_65_61_74_72_65_67  # "featreg": PostgreSQL advisory lock of usage ingests

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in total) after each block."""


@dataclass
class UsageIngestSummary:
    """What one `ingest_usage_file` did. ``events`` are lines taken; ``reads`` count × features."""

    source: str
    ingest_id: int | None = None
    events: int = 0
    reads: int = 0
    rejected: int = 0
    lines: int = 0
    """Lines in the whole content (including lines taken by earlier ingests)."""
    skipped_lines: int = 0
    """Lines already taken by an earlier ingest of the same leading content."""
    already_ingested: bool = False
    """True when nothing was new: the whole content had been ingested before."""
    unknown_feature_reads: dict[str, int] = field(default_factory=dict)
    """Reads of features not in the catalog, by feature name."""
    unregistered_principals: list[str] = field(default_factory=list)
    """Principals seen in this ingest that are not registered consumers."""


@dataclass(frozen=True)
class RejectedLine:
    ingest_id: int
    source: str
    line_number: int
    reason: str
    raw: str
    ingested_at: datetime


@dataclass(frozen=True)
class _Resume:
    """Where to start reading: bytes and lines that earlier ingests already took."""

    offset: int
    lines: int


def _names(session: Session, column: Any) -> frozenset[str]:
    return frozenset(session.scalars(select(column)))


def _resume_point(session: Session, file: IO[bytes], size: int) -> _Resume:
    """Where earlier ingests of a prefix of ``file`` ended (see the module docstring).

    The longest earlier content that is an exact prefix wins. If it ended inside a line (no
    line break at its end), the new content tells how: a line break right after it means its
    last line was whole (resume after that break); otherwise the line was still being written
    -- it was rejected as cut short -- and it is read again whole from its start.
    """
    rows = session.execute(
        select(m.UsageIngest.byte_count, m.UsageIngest.sha256, m.UsageIngest.line_count)
        .where(m.UsageIngest.byte_count > 0, m.UsageIngest.byte_count <= size)
    ).all()
    wanted: dict[int, dict[str, int]] = {}
    for byte_count, digest, line_count in rows:
        wanted.setdefault(byte_count, {})[digest] = line_count
    hasher = hashlib.sha256()
    best = _Resume(0, 0)
    position, line_start, last_byte = 0, 0, b""
    for length in sorted(wanted):
        while position < length:
            block = file.read(min(CHUNK_BYTES, length - position))
            if not block:
                break
            hasher.update(block)
            if (newline := block.rfind(b"\n")) >= 0:
                line_start = position + newline + 1
            position += len(block)
            last_byte = block[-1:]
        if position != length:
            break
        lines = wanted[length].get(hasher.hexdigest())
        if lines is None:
            continue
        if last_byte == b"\n" or length == size:
            best = _Resume(length, lines)
            continue
        following = file.read(1)  # the prefix ends inside a line: look at the next byte
        hasher.update(following)
        position += len(following)
        if following == b"\n":
            best, line_start = _Resume(length + 1, lines), length + 1
        else:
            best = _Resume(line_start, lines - 1)
    return best


READS_MAX = 2**63 - 1  # the largest BIGINT: a day's reads saturate there


def _upsert_statement(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The dialect's ``INSERT ... ON CONFLICT DO UPDATE`` for ``usage_daily`` as driver SQL,
    and the parameter order (None: named parameters)."""
    if dialect.name not in ("postgresql", "sqlite"):  # pragma: no cover
        raise NotImplementedError(f"usage rollups need SQLite or PostgreSQL, not {dialect.name}")
    table = cast(Table, m.UsageDaily.__table__)
    statement: Any = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.feature, table.c.principal, table.c.day],
        set_={
            # saturate instead of overflowing BIGINT (SQLite would turn the sum into a REAL)
            "reads": case((table.c.reads > literal_column(str(READS_MAX)) - new.reads,
                           literal_column(str(READS_MAX))),
                          else_=table.c.reads + new.reads),
            "first_read": case((new.first_read < table.c.first_read, new.first_read),
                               else_=table.c.first_read),
            "last_read": case((new.last_read > table.c.last_read, new.last_read),
                              else_=table.c.last_read),
        },
    )
    compiled = statement.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return str(compiled), order


def _sqlite_time(moment: datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it in SQLite (so comparisons stay textual)."""
    return moment.isoformat(" ", "microseconds")[:26]


COLUMNS = ("feature", "principal", "day", "reads", "first_read", "last_read")


def store_daily_counts(session: Session, counts: DailyReadCounts) -> None:
    """Add an in-memory aggregate into ``usage_daily`` (reads summed, first/last read widened);
    the aggregate is left as it is (callers clear it).

    The statement is SQLAlchemy's dialect insert (``ON CONFLICT DO UPDATE``), compiled once;
    the rows go straight to the driver's ``executemany``, in primary-key order, with values
    converted as the ORM type would (naive UTC times; SQLite's text format) -- several times
    faster than per-row bind processing, and this runs for every cell of every ingest.
    """
    if not counts.cells:
        return
    dialect = session.get_bind().dialect
    sql, order = _upsert_statement(dialect)
    cells = sorted(counts.cells.items(), key=lambda item: (item[0][1], item[0][2], item[0][0]))
    rows: list[tuple[Any, ...]]
    if dialect.name == "sqlite":
        days: dict[date, str] = {}
        rows = [
            (feature, principal, days.get(day) or days.setdefault(day, day.isoformat()),
             min(cell[0], READS_MAX), _sqlite_time(cell[1]), _sqlite_time(cell[2]))
            for (day, feature, principal), cell in cells
        ]
    else:
        rows = [
            (feature, principal, day, min(cell[0], READS_MAX), cell[1].replace(tzinfo=None),
             cell[2].replace(tzinfo=None))
            for (day, feature, principal), cell in cells
        ]
    params: list[Any]
    if order is None:
        params = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    elif order == COLUMNS:
        params = rows
    else:
        positions = [COLUMNS.index(name) for name in order]
        params = [tuple(row[i] for i in positions) for row in rows]
    session.connection().exec_driver_sql(sql, params)


def _store_rejections(session: Session, ingest_id: int, rejections: list[Rejection]) -> None:
    if rejections:
        session.execute(insert(m.UsageRejection), [
            {"ingest_id": ingest_id, "line_number": r.line_number, "raw": r.raw,
             "reason": r.reason[:255]} for r in rejections
        ])
        rejections.clear()


def ingest_usage_file(
    session: Session,
    path: str | Path,
    *,
    source: str | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
) -> UsageIngestSummary:
    """Ingest a JSON Lines usage file in the caller's transaction (see the module docstring).

    ``source`` names the input in the summary and in ``featreg usage rejected`` (default: the
    path). Raises NotFound when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    summary = UsageIngestSummary(source=source or str(path))
    # One ingest at a time (module docstring): on SQLite, writing the ingest record first takes
    # the single write lock before earlier ingests are looked up; on PostgreSQL, a lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK_KEY})
    record = m.UsageIngest(source=summary.source[:1024], sha256="", byte_count=0, line_count=0,
                           actor=actor)
    session.add(record)
    session.flush()
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        resume = _resume_point(session, file, size)
        summary.skipped_lines = summary.lines = resume.lines
        if resume.offset == size:
            summary.already_ingested = size > 0
            session.delete(record)
            session.flush()
            return summary
        record.first_line = resume.lines + 1
        file.seek(0)
        hasher = hashlib.sha256()
        remaining = resume.offset  # the hash covers the whole content, for later ingests
        while remaining > 0 and (block := file.read(min(CHUNK_BYTES, remaining))):
            hasher.update(block)
            remaining -= len(block)
        stats = _read_lines(session, file, record.id, hasher, resume, size, progress)
    total_lines = resume.lines + stats.lines
    record.sha256 = hasher.hexdigest()
    record.byte_count, record.line_count = size, total_lines
    record.events, record.reads, record.rejected = stats.events, stats.reads, stats.rejected
    record.unknown_feature_reads = sum(stats.unknown_feature_reads.values())
    session.flush()
    summary.ingest_id = record.id
    summary.events, summary.reads, summary.rejected = stats.events, stats.reads, stats.rejected
    summary.lines = total_lines
    summary.unknown_feature_reads = dict(sorted(stats.unknown_feature_reads.items()))
    summary.unregistered_principals = sorted(stats.unregistered_principals)
    return summary


def _read_lines(session: Session, file: IO[bytes], ingest_id: int, hasher: Any, resume: _Resume,
                size: int, progress: Progress | None) -> LineStats:
    known_features = _names(session, m.Feature.name)
    registered = _names(session, m.Consumer.name)
    counts, stats = DailyReadCounts(), LineStats()
    rejections: list[Rejection] = []
    done, number, pending = resume.offset, resume.lines + 1, b""

    def store_counts() -> None:
        stats.tally(counts, known_features, registered)
        store_daily_counts(session, counts)
        counts.clear()

    # The aggregate holds many small long-lived lists; the cyclic garbage collector would scan
    # them over and over (it roughly halves the speed) and there are no cycles to collect here.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while block := file.read(CHUNK_BYTES):
            hasher.update(block)
            done += len(block)
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            parse_lines(lines, number, counts, stats, rejections)
            number += len(lines)
            if len(counts) >= MAX_PENDING_CELLS:
                store_counts()
            if len(rejections) >= REJECTION_BATCH:
                _store_rejections(session, ingest_id, rejections)
            if progress is not None:
                progress(done, size)
        if pending:
            parse_lines([pending], number, counts, stats, rejections)
        store_counts()
        _store_rejections(session, ingest_id, rejections)
    finally:
        if collecting:
            gc.enable()
    return stats


def ingest_usage_stream(session: Session, stream: IO[bytes], *, source: str = "-",
                        actor: str | None = None, progress: Progress | None = None
                        ) -> UsageIngestSummary:
    """Ingest JSON Lines from a binary stream (stdin): copied to a temporary file first, so the
    idempotency rule applies to piped content exactly as to files."""
    with tempfile.TemporaryDirectory(prefix="featreg-usage-") as folder:
        spooled = Path(folder) / "stdin.jsonl"
        with spooled.open("wb") as copy:
            shutil.copyfileobj(stream, copy, CHUNK_BYTES)
        return ingest_usage_file(session, spooled, source=source, actor=actor,
                                 progress=progress)


def record_usage(session: Session, items: Iterable[UsageItem]) -> int:
    """Store usage events and daily counts (API, SDK, batching logger) in the caller's
    transaction; returns the reads recorded (count x features of each event, plus the count
    of each daily count).

    Each item is a `UsageEvent`, a `DailyCount`, or decoded JSON of either shape, checked by
    `validate_item` like a JSON line; if any is bad, InvalidInput lists them all (``event N``,
    counted from 1) and nothing is stored. Unlike files, items are not de-duplicated: each
    call is new reads.
    """
    counts, problems, reads = DailyReadCounts(), [], 0
    for position, item in enumerate(items, start=1):
        checked = validate_item(item)
        if isinstance(checked, str):
            problems.append(Problem(checked, field=f"event {position}"))
        elif isinstance(checked, UsageEvent):
            counts.add(checked.ts, checked.consumer, checked.features, checked.count)
            reads += checked.count * len(checked.features)
        else:
            counts.add_count(checked)
            reads += checked.count
    if problems:
        raise InvalidInput(problems)
    store_daily_counts(session, counts)
    return reads


def ingest_usage_aggregate(session: Session, aggregate: UsageAggregate, *, source: str,
                           actor: str | None = None) -> UsageIngestSummary:
    """Store usage logs that an engine added up (`registry.engines`: ``--engine spark``, or
    Parquet logs) in the caller's transaction: the same cells, rejections and ingest record
    as `ingest_usage_file`. The same content again (same cells and rejected lines, by
    fingerprint) adds nothing."""
    summary = UsageIngestSummary(source=source, lines=aggregate.stats.lines)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INGEST_LOCK_KEY})
    digest = aggregate.fingerprint()
    earlier = session.scalar(select(m.UsageIngest.id).where(
        m.UsageIngest.byte_count == 0, m.UsageIngest.sha256 == digest).limit(1))
    if earlier is not None:
        summary.already_ingested = True
        summary.skipped_lines = aggregate.stats.lines
        return summary
    stats = aggregate.stats
    stats.tally(aggregate.counts, _names(session, m.Feature.name),
                _names(session, m.Consumer.name))
    record = m.UsageIngest(source=source[:1024], sha256=digest, byte_count=0,
                           line_count=stats.lines, events=stats.events, reads=stats.reads,
                           rejected=stats.rejected, actor=actor,
                           unknown_feature_reads=sum(stats.unknown_feature_reads.values()))
    session.add(record)
    session.flush()
    store_daily_counts(session, aggregate.counts)
    _store_rejections(session, record.id, list(aggregate.rejections))
    summary.ingest_id = record.id
    summary.events, summary.reads, summary.rejected = stats.events, stats.reads, stats.rejected
    summary.unknown_feature_reads = dict(sorted(stats.unknown_feature_reads.items()))
    summary.unregistered_principals = sorted(stats.unregistered_principals)
    return summary


def rejected_lines(session: Session, *, ingest_id: int | None = None,
                   limit: int | None = 100) -> list[RejectedLine]:
    """Rejected lines, newest ingest first, then by line number."""
    query = (
        select(m.UsageRejection, m.UsageIngest.source, m.UsageIngest.ingested_at)
        .join(m.UsageIngest, m.UsageIngest.id == m.UsageRejection.ingest_id)
        .order_by(m.UsageIngest.id.desc(), m.UsageRejection.line_number)
    )
    if ingest_id is not None:
        query = query.where(m.UsageRejection.ingest_id == ingest_id)
    if limit is not None:
        query = query.limit(limit)
    return [
        RejectedLine(row.ingest_id, source, row.line_number, row.reason, row.raw, ingested_at)
        for row, source, ingested_at in session.execute(query)
    ]

