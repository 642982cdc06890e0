"""Usage in the catalog: each feature's last read, reads in the last 30 days, readers (distinct
principals in the last 90 days) and top importance share (its largest share of any consumer's
latest importance report), for the catalog's columns, sorts and filters.

`UsageTable.load` reads them for every feature in three grouped queries (callers keep the
table a while: usage arrives all the time and no change set marks it); `usage_rows` then
filters and sorts the features a catalog search matched, in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from registry.evidence.rollups import window_start
from registry.read.common import iso, run
from registry.store import models as m

READS_DAYS = 30
READERS_DAYS = 90
USAGE_SORTS: dict[str, str] = {
    "-last_read": "read most recently", "last_read": "unread longest",
    "-reads_30d": "most reads (30 d)", "reads_30d": "fewest reads (30 d)",
    "-readers": "most readers", "readers": "fewest readers",
    "-top_share": "highest importance share", "top_share": "lowest importance share",
}


class FeatureUse(NamedTuple):
    """One feature's usage (a tuple of plain values: the garbage collector stops tracking
    it, so a table of every feature adds nothing to its pauses)."""

    last_read: datetime | None = None
    reads_30d: int = 0
    readers: int = 0
    top_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"last_read": iso(self.last_read), "reads_30d": self.reads_30d,
                "readers": self.readers,
                "top_share": None if self.top_share is None else round(self.top_share, 4)}


NEVER = FeatureUse()


def _latest_shares(session: Session) -> dict[str, float]:
    """Each feature's largest share (value over the sum of positive values) in the latest
    importance report of each consumer."""
    R, V = m.ImportanceReport, m.ImportanceReportValue
    newest = (select(R.consumer, func.max(R.reported_at).label("at"))
              .group_by(R.consumer).subquery())
    latest = (select(func.max(R.id).label("id"))
              .join(newest, (newest.c.consumer == R.consumer) & (newest.c.at == R.reported_at))
              .group_by(R.consumer).subquery())
    totals = dict(run(session, select(V.report_id, func.sum(case((V.value > 0, V.value),
                                                                  else_=0.0)))
                      .where(V.report_id.in_(select(latest.c.id))).group_by(V.report_id)).all())
    shares: dict[str, float] = {}
    for report_id, feature, value in run(session, select(V.report_id, V.feature, V.value)
                                         .where(V.report_id.in_(select(latest.c.id)))):
        total = float(totals.get(report_id) or 0.0)
        if total > 0:
            share = max(float(value), 0.0) / total
            shares[feature] = max(share, shares.get(feature, 0.0))
    return shares


class UsageTable:
    """Usage of every feature as of `now` (features never read: `NEVER`)."""

    def __init__(self, rows: dict[str, FeatureUse], now: datetime) -> None:
        self.rows = rows
        self.now = now
        self._keys: dict[str, tuple[dict[str, tuple[int, float]], tuple[int, float]]] = {}
        self._with_readers: frozenset[str] | None = None

    @classmethod
    def load(cls, session: Session, now: datetime | None = None) -> UsageTable:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        U = m.UsageDaily
        reads = func.sum(case((U.day >= window_start(now, READS_DAYS), U.reads), else_=0))
        readers = func.count(distinct(case((U.day >= window_start(now, READERS_DAYS),
                                            U.principal))))
        query = (select(U.feature, func.max(U.last_read), reads, readers)
                 .where(U.day <= now.date()).group_by(U.feature))
        rows: dict[str, FeatureUse] = {}
        for feature, last, n, principals in run(session, query):
            rows[feature] = FeatureUse(min(last, now) if last else None, int(n or 0),
                                       int(principals or 0))
        for feature, share in _latest_shares(session).items():
            held = rows.get(feature, NEVER)
            rows[feature] = FeatureUse(held.last_read, held.reads_30d, held.readers, share)
        return cls(rows, now)

    def get(self, feature: str) -> FeatureUse:
        return self.rows.get(feature, NEVER)

    def with_readers(self) -> frozenset[str]:
        """The features some principal read in the last READERS_DAYS days."""
        if self._with_readers is None:
            self._with_readers = frozenset(n for n, use in self.rows.items() if use.readers)
        return self._with_readers

    def sort_keys(self, sort: str) -> tuple[dict[str, tuple[int, float]], tuple[int, float]]:
        """For a usage sort: the key of each feature read (computed once per table) and the
        key of any other; ties go by name."""
        held = self._keys.get(sort)
        if held is None:
            key = _sort_key(sort)
            held = self._keys[sort] = ({name: key(use) for name, use in self.rows.items()},
                                       key(NEVER))
        return held


def _sort_key(sort: str) -> Callable[[FeatureUse], tuple[int, float]]:
    """A key on usage for a usage sort (None — never read, no importance — comes last when
    sorting down, first when sorting up)."""
    field = sort.lstrip("-")
    sign = -1 if sort.startswith("-") else 1

    def key(use: FeatureUse) -> tuple[int, float]:
        value = getattr(use, field)
        if isinstance(value, datetime):
            value = value.timestamp()
        if value is None:
            return (1 if sign < 0 else 0, 0.0)
        return (0 if sign < 0 else 1, sign * float(value))

    return key


def usage_order(names: Sequence[str], usage: UsageTable, *, sort: str = "",
                unread_days: int = 0, no_readers: bool = False) -> list[str]:
    """`names` (in their search order) kept by the usage filters — unread for `unread_days`
    days (or never read), no readers in the last READERS_DAYS days — and sorted by a usage
    sort (of USAGE_SORTS; any other keeps the given order)."""
    kept = list(names)
    if unread_days > 0:
        since = usage.now - timedelta(days=unread_days)
        read = {n for n, use in usage.rows.items()
                if use.last_read is not None and use.last_read >= since}
        kept = [n for n in kept if n not in read]
    if no_readers:
        with_readers = usage.with_readers()
        kept = [n for n in kept if n not in with_readers]
    if sort in USAGE_SORTS:
        keys, other = usage.sort_keys(sort)
        decorated = [(keys.get(name, other), name) for name in kept]
        decorated.sort()  # (tuples compare in C: several times faster than a key function)
        kept = [name for _, name in decorated]
    return kept
