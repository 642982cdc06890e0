"""Usage evidence: the one validator of events and daily counts, and the daily aggregate.

Pure (no database): `validate_item` is what every way in checks usage with (the CLI's JSON
Lines through `parse_lines`, the API, the SDK's two transports, the batching logger);
`DailyReadCounts` holds the in-memory daily aggregate that the usage service upserts, and
`parse_lines` is the hot loop of `featreg usage ingest`.

Two shapes, both JSON objects; other keys are ignored:

- An **event** (a JSON Lines line, `UsageEvent`): ``ts`` (ISO 8601 with a timezone offset or
  ``Z``), ``consumer`` (the principal that read), ``feature`` (one name) or ``features`` (a
  non-empty list of names), and ``count`` (a positive integer, default 1: the event stands for
  that many reads of each feature). A name listed twice in one event counts once.
- A **daily count** (`DailyCount`, what the batching logger sends): ``day`` (``YYYY-MM-DD``,
  a UTC day), ``consumer``, ``feature`` (one name), ``count`` (reads that day, a positive
  integer), and optionally ``first_read`` and ``last_read`` (ISO 8601 times on that UTC day,
  first <= last; one given alone stands for both; neither: the day's midnight UTC).

An object with ``day`` is a daily count; any other is an event. In a file, blank lines are
skipped (they are not events); every other line is taken or rejected with a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson

from registry.core.names import name_problem
from registry.core.timeparse import parse_day, parse_time

__all__ = [
    "MAX_COUNT",
    "RAW_TEXT_LIMIT",
    "DailyCount",
    "DailyReadCounts",
    "LineStats",
    "Rejection",
    "UsageEvent",
    "UsageItem",
    "count_problem",
    "parse_lines",
    "validate_count",
    "validate_event",
    "validate_item",
]

MAX_COUNT = 10**12
"""Largest ``count`` one event may carry."""
RAW_TEXT_LIMIT = 500
"""Characters of a rejected line that are kept."""

Cell = tuple[date, str, str]  # (UTC day, feature, principal)
T = TypeVar("T")


@dataclass(frozen=True)
class UsageEvent:
    """``count`` reads of each of ``features`` by ``consumer`` at ``ts`` (timezone-aware)."""

    ts: datetime
    consumer: str
    features: tuple[str, ...]
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The event in its JSON shape (what `validate_event` reads)."""
        ts = self.ts.isoformat() if isinstance(self.ts, datetime) else self.ts
        return {"ts": ts, "consumer": self.consumer, "features": list(self.features),
                "count": self.count}


@dataclass(frozen=True)
class DailyCount:
    """``count`` reads of ``feature`` by ``consumer`` on the UTC ``day``, the first and the
    last at ``first_read`` and ``last_read`` (aware; None: not known)."""

    day: date
    consumer: str
    feature: str
    count: int
    first_read: datetime | None = None
    last_read: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The count in its JSON shape (what `validate_count` reads)."""
        data: dict[str, Any] = {"day": _iso(self.day), "consumer": self.consumer,
                                "feature": self.feature, "count": self.count}
        for key in ("first_read", "last_read"):
            if (value := getattr(self, key)) is not None:
                data[key] = _iso(value)
        return data


UsageItem = UsageEvent | DailyCount | Mapping[str, Any]
"""What the usage service takes: an event or a daily count, as a value or as decoded JSON."""


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


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

    def add_count(self, item: DailyCount) -> None:
        """Add one validated daily count (see `validate_count`: its times are set and UTC)."""
        key = (item.day, item.feature, item.consumer)
        cell = self.cells.get(key)
        if cell is None:
            self.cells[key] = [item.count, item.first_read, item.last_read]
        else:
            cell[0] += item.count
            cell[1] = min(cell[1], item.first_read)
            cell[2] = max(cell[2], item.last_read)

    def daily_counts(self) -> list[DailyCount]:
        """The cells as daily counts (what the batching logger hands to its sink)."""
        return [DailyCount(day, principal, feature, cell[0], cell[1], cell[2])
                for (day, feature, principal), cell in self.cells.items()]

    def rows(self) -> list[dict[str, object]]:
        """The cells as rows for `registry.store.models.UsageDaily`."""
        return [
            {"day": day, "feature": feature, "principal": principal, "reads": cell[0],
             "first_read": cell[1], "last_read": cell[2]}
            for (day, feature, principal), cell in self.cells.items()
        ]

    def clear(self) -> None:
        self.cells = {}


def count_problem(value: object) -> str | None:
    """Why ``value`` cannot be the ``count`` of an event or a daily count, or None."""
    if type(value) is not int or not 1 <= value <= MAX_COUNT:
        return f"count must be a whole number from 1 to {MAX_COUNT}"
    return None


def _read(obj: dict[str, Any], key: str, parse: Callable[[str], T]) -> T | str:
    """``obj[key]`` (a string) read by ``parse``, or the reason it cannot be."""
    text = obj.get(key)
    if type(text) is not str:
        return f"missing {key}" if text is None else f"{key} must be a string"
    try:
        return parse(text)
    except ValueError as exc:
        return str(exc)[:200]


def validate_event(obj: object) -> tuple[datetime, str, tuple[str, ...], int] | str:
    """(UTC time, consumer, features, count) from a decoded event, or the reason it is bad."""
    if type(obj) is not dict:
        return "not a JSON object"
    ts = _read(obj, "ts", parse_time)
    if isinstance(ts, str):
        return ts
    consumer = obj.get("consumer")
    problem = name_problem(consumer, "consumer")
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
        problem = name_problem(name, "feature")
        if problem:
            return problem
    count = obj.get("count", 1)
    problem = count_problem(count)
    if problem:
        return problem
    unique = tuple(features) if len(features) == 1 else tuple(dict.fromkeys(features))
    return ts, consumer, unique, count  # type: ignore[return-value]


def _read_time(obj: dict[str, Any], key: str, day: date) -> datetime | str | None:
    """``obj[key]`` as UTC on ``day`` (None when absent), or the reason it is bad."""
    text = obj.get(key)
    if text is None:
        return None
    moment = _read(obj, key, parse_time)
    if isinstance(moment, str):  # not a string, or the parser's reason (naming the key)
        return moment if type(text) is not str else f"{key}: {moment}"[:200]
    if moment.date() != day:
        return f"{key} {text!r} is not on the day {day.isoformat()} (UTC)"[:200]
    return moment


def validate_count(obj: object) -> DailyCount | str:
    """A daily count (times set, UTC) from a decoded object, or the reason it is bad."""
    if type(obj) is not dict:
        return "not a JSON object"
    if "ts" in obj:
        return "give ts (an event) or day (a daily count), not both"
    day = _read(obj, "day", parse_day)
    if isinstance(day, str):
        return day
    consumer, feature, count = obj.get("consumer"), obj.get("feature"), obj.get("count")
    problem = (name_problem(consumer, "consumer") or name_problem(feature, "feature")
               or count_problem(count))
    if problem:
        return problem
    times: list[datetime | None] = []
    for key in ("first_read", "last_read"):
        moment = _read_time(obj, key, day)
        if isinstance(moment, str):
            return moment
        times.append(moment)
    first = times[0] or times[1] or datetime(day.year, day.month, day.day, tzinfo=UTC)
    last = times[1] or first
    if first > last:
        return "first_read must not be after last_read"
    return DailyCount(day, consumer, feature, count, first, last)  # type: ignore[arg-type]


def validate_item(item: object) -> UsageEvent | DailyCount | str:
    """An event or a daily count (`UsageEvent`, `DailyCount`, or decoded JSON of either
    shape: one with ``day`` is a daily count), checked; or the reason it is bad. Values are
    checked through their JSON shape, so every way in gets the same answer."""
    if isinstance(item, UsageEvent | DailyCount):
        item = item.to_dict()
    if type(item) is dict and "day" in item:
        return validate_count(item)
    parsed = validate_event(item)
    return parsed if isinstance(parsed, str) else UsageEvent(*parsed)


def _reject(rejections: list[Rejection], number: int, raw: bytes, reason: str) -> None:
    # kept as text: undecodable bytes become U+FFFD and a NUL (which PostgreSQL cannot store
    # in text) is shown escaped
    text = raw[: RAW_TEXT_LIMIT * 4].decode("utf-8", errors="replace").rstrip("\r\n")
    text = text.replace("\x00", "\\x00")
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
