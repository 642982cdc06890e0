"""Report weeks: Monday 00:00 to the next Monday 00:00 in the report timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["ReportWeek", "week_of"]


@dataclass(frozen=True)
class ReportWeek:
    """An ISO week in a timezone. ``start`` is its Monday (a local date)."""

    start: date
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def label(self) -> str:
        """The ISO week, e.g. ``2026-W47``."""
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def starts_at(self) -> datetime:
        """Monday 00:00 local time, as an aware UTC datetime (correct across DST changes)."""
        return datetime.combine(self.start, time(0), self.zone).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        return self.next().starts_at

    def next(self) -> ReportWeek:
        return ReportWeek(self.start + timedelta(days=7), self.timezone)

    def previous(self, weeks: int = 1) -> ReportWeek:
        return ReportWeek(self.start - timedelta(days=7 * weeks), self.timezone)

    def last(self, count: int) -> list[ReportWeek]:
        """The ``count`` weeks ending with this one, oldest first."""
        return [self.previous(back) for back in range(count - 1, -1, -1)]


def week_of(moment: datetime, timezone: str) -> ReportWeek:
    """The report week that contains ``moment`` (aware; naive means UTC) in ``timezone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(timezone)).date()
    return ReportWeek(local - timedelta(days=local.weekday()), timezone)
