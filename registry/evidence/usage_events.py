"""Usage events: parsing JSON Lines and adding reads up per (day, feature, principal).

Pure (no database): `DailyReadCounts` holds the in-memory daily aggregate that the usage
service upserts, and `parse_lines` is the hot loop of `featreg usage ingest`.

A line is one JSON object: ``ts`` (ISO 8601 with a timezone offset or ``Z``), ``consumer``
(the principal that read), ``feature`` (one name) or ``features`` (a non-empty list of names),
and ``count`` (a positive integer, default 1: the event stands for that many reads of each
feature). Other keys are ignored; a name listed twice in one event counts once. Blank lines are
skipped (they are not events); every other line is taken or rejected with a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson

from registry.core.names import NAME_LENGTH
from registry.core.timeparse import parse_time

__all__ = [
    "MAX_COUNT",
    "RAW_TEXT_LIMIT",
    "DailyReadCounts",
    "LineStats",
    "Rejection",
    "UsageEvent",
    "parse_lines",
    "validate_event",
]

MAX_COUNT = 10**12
"""Largest ``count`` one event may carry."""
RAW_TEXT_LIMIT = 500
"""Characters of a rejected line that are kept."""

Cell = tuple[date, str, str]  # (UTC day, feature, principal)


@dataclass(frozen=True)
class UsageEvent:
    """``count`` reads of each of ``features`` by ``consumer`` at ``ts`` (timezone-aware)."""

    ts: datetime
    consumer: str
    features: tuple[str, ...]
    count: int = 1


@dataclass(frozen=True)
class Rejection:
    line_number: int
    raw: str
    reason: str


@dataclass
class LineStats:
    """What a run of lines contributed (accumulates over calls to `parse_lines`)."""

    events: int = 0
    reads: int = 0
    rejected: int = 0
    lines: int = 0
    unknown_feature_reads: Counter[str] = field(default_factory=Counter)
    unregistered_principals: set[str] = field(default_factory=set)
    valid_names: set[str] = field(default_factory=set, repr=False)
    """Names already seen to be valid (lets the usual line skip most checks)."""

    def tally(self, counts: DailyReadCounts, known_features: frozenset[str] | set[str],
              registered_principals: frozenset[str] | set[str]) -> None:
        """Add the reads, unknown-feature reads and unregistered principals of ``counts``
        (call before the aggregate is cleared; per cell, not per event, so it is cheap)."""
        unknown = self.unknown_feature_reads
        for (_day, feature, principal), cell in counts.cells.items():
            self.reads += cell[0]
            if feature not in known_features:
                unknown[feature] += cell[0]
            if principal not in registered_principals:
                self.unregistered_principals.add(principal)


class DailyReadCounts:
    """Reads per (UTC day, feature, principal) with the first and last read time of each."""

    def __init__(self) -> None:
        self.cells: dict[Cell, list[Any]] = {}  # [reads, first, last]

    def __len__(self) -> int:
        return len(self.cells)

    def add(self, ts: datetime, principal: str, features: Iterable[str], count: int) -> None:
        """Add one event; ``ts`` must be UTC (see `registry.core.timeparse`)."""
        cells = self.cells
        day = ts.date()
        for feature in features:
            key = (day, feature, principal)
            cell = cells.get(key)
            if cell is None:
                cells[key] = [count, ts, ts]
            else:
                cell[0] += count
                if ts < cell[1]:
                    cell[1] = ts
                elif ts > cell[2]:
                    cell[2] = ts

    def rows(self) -> list[dict[str, object]]:
        """The cells as rows for `registry.store.models.UsageDaily`."""
        return [
            {"day": day, "feature": feature, "principal": principal, "reads": cell[0],
             "first_read": cell[1], "last_read": cell[2]}
            for (day, feature, principal), cell in self.cells.items()
        ]

    def clear(self) -> None:
        self.cells = {}


def _name_problem(value: object, what: str) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{what} must be a non-empty string"
    if len(value) > NAME_LENGTH:
        return f"{what} is longer than {NAME_LENGTH} characters"
    return None


def validate_event(obj: object) -> tuple[datetime, str, tuple[str, ...], int] | str:
    """(UTC time, consumer, features, count) from a decoded event, or the reason it is bad."""
    if type(obj) is not dict:
        return "not a JSON object"
    ts_text = obj.get("ts")
    if type(ts_text) is not str:
        return "missing ts" if ts_text is None else "ts must be a string"
    try:
        ts = parse_time(ts_text)
    except ValueError as exc:
        return str(exc)[:200]
    consumer = obj.get("consumer")
    problem = _name_problem(consumer, "consumer")
    if problem:
        return problem
    features = obj.get("features")
    single = obj.get("feature")
    if features is None:
        if single is None:
            return "missing feature or features"
        features = (single,)
    elif single is not None:
        return "give feature or features, not both"
    elif type(features) is not list or not features:
        return "features must be a non-empty list of names"
    for name in features:
        problem = _name_problem(name, "feature")
        if problem:
            return problem
    count = obj.get("count", 1)
    if type(count) is not int or not 1 <= count <= MAX_COUNT:
        return f"count must be a whole number from 1 to {MAX_COUNT}"
    unique = tuple(features) if len(features) == 1 else tuple(dict.fromkeys(features))
    return ts, consumer, unique, count  # type: ignore[return-value]


def _reject(rejections: list[Rejection], number: int, raw: bytes, reason: str) -> None:
    text = raw[: RAW_TEXT_LIMIT * 4].decode("utf-8", errors="replace").rstrip("\r\n")
    rejections.append(Rejection(number, text[:RAW_TEXT_LIMIT], reason))


def parse_lines(
    lines: Sequence[bytes],
    first_number: int,
    counts: DailyReadCounts,
    stats: LineStats,
    rejections: list[Rejection],
) -> None:
    """Parse ``lines`` (numbered from ``first_number``) into ``counts``; bad lines go to
    ``rejections``. Counts events, lines and rejections in ``stats`` (reads and names are
    counted per cell by `LineStats.tally`).

    This is the hot loop of usage ingestion: a line whose names were all seen before and
    whose fields have the usual types takes a short path; anything else goes through
    `validate_event`, the one definition of what is valid, which also says what is wrong.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    from_iso = datetime.fromisoformat
    cells = counts.cells
    valid = stats.valid_names
    number = first_number - 1
    events = 0
    rejected_before = len(rejections)
    for raw in lines:
        number += 1
        try:
            obj = loads(raw)
        except decode_error as exc:
            if raw.strip():
                reason = str(exc).split(":", 1)[0][:200]
                _reject(rejections, number, raw, f"not valid JSON ({reason})")
            continue
        try:  # short path; TypeError (e.g. an unhashable name) falls through to the long one
            if type(obj) is dict:
                principal = obj.get("consumer")
                features = obj.get("features")
                if features is None:
                    features = (obj.get("feature"),)
                elif "feature" in obj or type(features) is not list or not features:
                    features = None  # both, wrong type or empty: the long path says why
                count = obj.get("count", 1)
                ts_text = obj.get("ts")
                if (features is not None and principal in valid and type(count) is int
                        and 0 < count <= MAX_COUNT and type(ts_text) is str):
                    for name in features:
                        if name not in valid:
                            break
                    else:
                        ts = from_iso(ts_text)
                        if ts.tzinfo is not UTC:
                            ts = parse_time(ts_text)
                        if len(features) > 1 and len(set(features)) < len(features):
                            features = tuple(dict.fromkeys(features))
                        day = ts.date()
                        for feature in features:  # DailyReadCounts.add, inlined
                            key = (day, feature, principal)
                            cell = cells.get(key)
                            if cell is None:
                                cells[key] = [count, ts, ts]
                            else:
                                cell[0] += count
                                if ts < cell[1]:
                                    cell[1] = ts
                                elif ts > cell[2]:
                                    cell[2] = ts
                        events += 1
                        continue
        except (TypeError, ValueError):
            pass
        parsed = validate_event(obj)
        if isinstance(parsed, str):
            _reject(rejections, number, raw, parsed)
            continue
        ts, principal, features, count = parsed
        counts.add(ts, principal, features, count)
        events += 1
        valid.add(principal)
        valid.update(features)
    stats.lines += len(lines)
    stats.events += events
    stats.rejected += len(rejections) - rejected_before
