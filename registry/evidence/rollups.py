"""Queries over the daily usage rollups (``usage_daily``), counted back from a given ``now``.

Windows are whole UTC days: "the last N days" are the N calendar days ending with the day of
``now`` (reads later on that same day included). Days after the day of ``now`` are ignored.
The last read is exact for earlier days; on the day of ``now`` a read later than ``now`` is
taken as a read at ``now`` (a daily rollup keeps only the first and last read time of a day).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from registry.store import models as m

__all__ = [
    "DailyReads",
    "FeatureUsage",
    "ObservedPrincipal",
    "PrincipalReads",
    "daily_reads",
    "feature_usage",
    "observed_principals",
    "principal_reads",
    "window_start",
]

U = m.UsageDaily


@dataclass(frozen=True)
class FeatureUsage:
    feature: str
    in_catalog: bool
    last_read: datetime | None
    reads_7d: int
    reads_30d: int
    reads_90d: int
    readers_90d: int
    """Distinct principals with reads in the last 90 days."""
    readers: int
    """Distinct principals that ever read it (up to the day of ``now``)."""


@dataclass(frozen=True)
class PrincipalReads:
    """Reads of one feature by one principal: in the window, and the last read ever."""

    principal: str
    feature: str
    reads: int
    last_read: datetime
    registered: bool
    """The principal is a registered consumer."""
    declared: bool
    """The principal is a registered consumer that declares the feature."""


@dataclass(frozen=True)
class ObservedPrincipal:
    name: str
    registered: bool
    features: int
    reads: int
    """Reads in the window."""
    last_read: datetime


@dataclass(frozen=True)
class DailyReads:
    day: date
    feature: str
    principal: str
    reads: int


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: give `now` with a timezone")
    return now.astimezone(UTC)


def window_start(now: datetime, days: int) -> date:
    """The first UTC day of the ``days``-day window ending with the day of ``now``."""
    return _utc(now).date() - timedelta(days=days - 1)


def _reads_since(start: date) -> Any:
    return func.coalesce(func.sum(case((U.day >= start, U.reads), else_=0)), 0)


def _last_read_columns(now: datetime) -> tuple[Any, Any]:
    """max(last read at or before now), and whether some read straddles ``now``."""
    last = func.max(case((U.last_read <= now, U.last_read)), type_=m.UTCDateTime())
    straddles = func.max(case((and_(U.first_read <= now, U.last_read > now), 1), else_=0))
    return last, straddles


def _last_read(now: datetime, last: datetime | None, straddles: int | None) -> datetime | None:
    return now if straddles else last


def feature_usage(session: Session, now: datetime, *,
                  features: Iterable[str] | None = None) -> dict[str, FeatureUsage]:
    """Usage of every catalog feature and every feature observed (or only ``features``)."""
    now = _utc(now)
    today = now.date()
    last, straddles = _last_read_columns(now)
    query = (
        select(U.feature, last, straddles, _reads_since(window_start(now, 7)),
               _reads_since(window_start(now, 30)), _reads_since(window_start(now, 90)),
               func.count(distinct(case((U.day >= window_start(now, 90), U.principal)))),
               func.count(distinct(U.principal)))
        .where(U.day <= today)
        .group_by(U.feature)
    )
    wanted = None if features is None else set(features)
    if wanted is not None:
        query = query.where(U.feature.in_(sorted(wanted)))
    catalog = set(session.scalars(select(m.Feature.name)))
    result: dict[str, FeatureUsage] = {}
    for name, last_read, straddle, r7, r30, r90, readers_90d, readers in session.execute(query):
        result[name] = FeatureUsage(name, name in catalog, _last_read(now, last_read, straddle),
                                    int(r7), int(r30), int(r90), int(readers_90d), int(readers))
    for name in catalog if wanted is None else wanted:
        if name not in result:
            result[name] = FeatureUsage(name, name in catalog, None, 0, 0, 0, 0, 0)
    return dict(sorted(result.items()))


def _declarations(session: Session) -> tuple[set[str], set[tuple[str, str]]]:
    consumers = set(session.scalars(select(m.Consumer.name)))
    declared = {
        (consumer, feature) for consumer, feature in session.execute(
            select(m.Consumer.name, m.Feature.name)
            .join(m.ConsumerFeature, m.ConsumerFeature.consumer_id == m.Consumer.id)
            .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id))
    }
    return consumers, declared


def principal_reads(session: Session, now: datetime, *, window_days: int = 90,
                    principal: str | None = None, feature: str | None = None
                    ) -> list[PrincipalReads]:
    """Per (principal, feature): reads in the ``window_days`` window ending at ``now`` and the
    last read at or before ``now`` (all history). Pairs whose reads all come after the day of
    ``now`` are left out. Sorted by principal, then feature."""
    now = _utc(now)
    last, straddles = _last_read_columns(now)
    query = (
        select(U.principal, U.feature, _reads_since(window_start(now, window_days)),
               last, straddles)
        .where(U.day <= now.date())
        .group_by(U.principal, U.feature)
        .order_by(U.principal, U.feature)
    )
    if principal is not None:
        query = query.where(U.principal == principal)
    if feature is not None:
        query = query.where(U.feature == feature)
    consumers, declared = _declarations(session)
    rows = []
    for name, feature_name, reads, last_read, straddle in session.execute(query):
        moment = _last_read(now, last_read, straddle)
        if moment is None:
            continue
        rows.append(PrincipalReads(name, feature_name, int(reads), moment, name in consumers,
                                   (name, feature_name) in declared))
    return rows


def observed_principals(session: Session, now: datetime, *,
                        window_days: int = 90) -> list[ObservedPrincipal]:
    """Every principal seen reading, registered or not, with its reads in the window."""
    grouped: dict[str, list[PrincipalReads]] = {}
    for row in principal_reads(session, now, window_days=window_days):
        grouped.setdefault(row.principal, []).append(row)
    return [
        ObservedPrincipal(name, rows[0].registered, len(rows), sum(r.reads for r in rows),
                          max(r.last_read for r in rows))
        for name, rows in grouped.items()
    ]


def daily_reads(session: Session, *, feature: str | None = None, principal: str | None = None,
                since: date | None = None, until: date | None = None) -> list[DailyReads]:
    """Daily read counts (for trends), by day, feature and principal."""
    query = select(U.day, U.feature, U.principal, U.reads).order_by(U.day, U.feature,
                                                                     U.principal)
    if feature is not None:
        query = query.where(U.feature == feature)
    if principal is not None:
        query = query.where(U.principal == principal)
    if since is not None:
        query = query.where(U.day >= since)
    if until is not None:
        query = query.where(U.day <= until)
    return [DailyReads(*row) for row in session.execute(query)]
