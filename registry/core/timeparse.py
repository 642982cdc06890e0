"""Reading times and days that come from users and the wire: one parser, always aware UTC.

`parse_time` reads ISO 8601 (``2026-11-01T12:00:00Z``, an offset such as ``+02:00``, fractions
of a second, a space instead of the ``T``) and returns a timezone-aware datetime in UTC.

- A time without an offset is refused (`InvalidTime`: "has no timezone") unless the caller
  reads it as UTC (``assume_utc=True``: command-line options, times Featreg wrote itself). A
  bare date is such a time (its midnight).
- ``dates=True`` reads a bare ``YYYY-MM-DD`` as its midnight UTC even where times without an
  offset are refused (importance CSV ``ts``).
- A time whose conversion to UTC leaves the range of datetimes
  (``0001-01-01T00:00:00+14:00``, ``9999-12-31T23:00:00-05:00``) is refused.

`parse_day` reads a ``YYYY-MM-DD`` day; `as_utc` converts a datetime given as a value (SDK
arguments) by the same rules. Every refusal is an `InvalidTime`, a ValueError (and a
FeatregError) whose message names the value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from registry.core.errors import FeatregError

__all__ = ["InvalidTime", "as_utc", "parse_day", "parse_time"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
EXAMPLE = "2026-11-01T12:00:00Z"


class InvalidTime(FeatregError, ValueError):
    """A time or day that cannot be read; the message names the value and says why."""


def as_utc(moment: datetime, *, assume_utc: bool = False) -> datetime:
    """``moment`` in UTC (aware). A naive ``moment`` is refused unless ``assume_utc``; one
    whose UTC time is out of range is refused."""
    offset = moment.utcoffset()
    if offset is None:
        if not assume_utc:
            raise InvalidTime(f"timestamp {moment.isoformat()!r} has no timezone "
                              "(add Z or an offset like +02:00)")
        return moment.replace(tzinfo=UTC)
    if not offset:
        return moment if moment.tzinfo is UTC else moment.replace(tzinfo=UTC)
    try:
        return (moment.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    except OverflowError:
        raise InvalidTime(f"timestamp {moment.isoformat()!r} is out of range in UTC "
                          "(before year 1 or after year 9999)") from None


def parse_time(text: str, *, assume_utc: bool = False, dates: bool = False) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (see the module docstring for the rules)."""
    if dates and _DAY.fullmatch(text):
        day = parse_day(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        reason = str(exc)
        detail = (f"expected ISO 8601 such as {EXAMPLE}" if reason.startswith("Invalid isoformat")
                  or isinstance(exc, TypeError) else reason)
        raise InvalidTime(f"Invalid isoformat string: {text!r} ({detail})") from None
    if moment.tzinfo is None and not assume_utc:
        raise InvalidTime(f"timestamp {text!r} has no timezone (add Z or an offset like +02:00)")
    try:
        return as_utc(moment, assume_utc=assume_utc)
    except InvalidTime:
        raise InvalidTime(f"timestamp {text!r} is out of range in UTC "
                          "(before year 1 or after year 9999)") from None


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` day."""
    if not isinstance(text, str) or not _DAY.fullmatch(text):
        raise InvalidTime(f"day {text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTime(f"day {text!r} is not a date ({exc})") from None
