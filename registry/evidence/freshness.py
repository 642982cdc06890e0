"""Updates of sources (freshness evidence): when each source was last written.

Two ways in, one service: a COMPLETE OpenLineage run that writes a dataset matching a source
(`registry.evidence.openlineage` calls `record_updates`), and a report for pipelines that emit
no OpenLineage (`report_refresh`: `featreg source refreshed`, ``POST
/api/v1/sources/NAME/refreshed``, the SDK). Running, failed and aborted runs are not updates.
The `stale_source` detector reads `latest_updates` (updates after the analysis time are ignored).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.core.durations import InvalidDuration, parse_duration
from registry.core.errors import InvalidInput, NotFound, Problem
from registry.core.timeparse import as_utc
from registry.store import models as m

__all__ = ["SourceUpdateRow", "freshness_view", "latest_updates", "record_updates",
           "report_refresh", "source_updates"]

HOWS = ("openlineage", "reported")
FUTURE_TOLERANCE = timedelta(minutes=5)
"""A reported update may be this far ahead of the clock (skew), no further."""


@dataclass(frozen=True)
class SourceUpdateRow:
    source: str
    at: datetime
    how: str
    run_id: str | None = None


def record_updates(session: Session, updates: Iterable[SourceUpdateRow], *,
                   actor: str | None = None) -> int:
    """Store updates (one per source, time, way and run: repeats are skipped); the count
    stored."""
    wanted = {(u.source, as_utc(u.at), u.how, u.run_id) for u in updates}
    if not wanted:
        return 0
    for _source, _at, how, _run in wanted:
        if how not in HOWS:
            raise ValueError(f"unknown way of update {how!r}")
    held = {(s, as_utc(a), h, r) for s, a, h, r in session.execute(
        select(m.SourceUpdate.source, m.SourceUpdate.at, m.SourceUpdate.how,
               m.SourceUpdate.run_id)
        .where(m.SourceUpdate.source.in_(sorted({w[0] for w in wanted}))))}
    fresh = sorted(wanted - held, key=lambda w: (w[0], w[1]))
    session.add_all(m.SourceUpdate(source=s, at=a, how=h, run_id=r, actor=actor)
                    for s, a, h, r in fresh)
    session.flush()
    return len(fresh)


def report_refresh(session: Session, source: str, *, at: datetime | None = None,
                   actor: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Report that ``source`` was updated at ``at`` (default now): NotFound for an unknown
    source, InvalidInput for a time without a timezone or in the future."""
    now = now or datetime.now(UTC)
    if session.scalar(select(m.Source.id).where(m.Source.name == source)) is None:
        raise NotFound(f"no source named {source!r}")
    if at is None:
        at = now
    if at.tzinfo is None:
        raise InvalidInput([Problem(f"--at {at.isoformat()} has no timezone: add Z or an "
                                    "offset such as +02:00", field="at")])
    at = as_utc(at)
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput([Problem(f"the update time {at.isoformat()} is in the future "
                                    f"(now is {now.isoformat(timespec='seconds')})",
                                    field="at")])
    stored = record_updates(session, [SourceUpdateRow(source, at, "reported")], actor=actor)
    return {"source": source, "at": at.isoformat(), "how": "reported",
            "recorded": bool(stored)}


def latest_updates(session: Session, now: datetime) -> dict[str, datetime]:
    """The latest update of each source at or before ``now``."""
    rows = session.execute(select(m.SourceUpdate.source, func.max(m.SourceUpdate.at))
                           .where(m.SourceUpdate.at <= now)
                           .group_by(m.SourceUpdate.source)).all()
    return {s: as_utc(_aware(at)) for s, at in rows if at is not None}


def _aware(value: datetime) -> datetime:
    """func.max bypasses the column type on SQLite: naive there means UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def source_updates(session: Session, source: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """A source's latest updates, newest first."""
    rows = session.scalars(select(m.SourceUpdate).where(m.SourceUpdate.source == source)
                           .order_by(m.SourceUpdate.at.desc(), m.SourceUpdate.id.desc())
                           .limit(limit))
    return [{"at": r.at.isoformat(), "how": r.how, "run_id": r.run_id, "actor": r.actor}
            for r in rows]


def freshness_view(session: Session, source: str, freshness: str | None, *,
                   now: datetime | None = None) -> dict[str, Any]:
    """What the source page shows: the SLA, the last update, how overdue, the timeline."""
    now = now or datetime.now(UTC)
    updates = source_updates(session, source)
    past = [u for u in updates if datetime.fromisoformat(u["at"]) <= now]
    last = datetime.fromisoformat(past[0]["at"]) if past else None
    try:
        sla = parse_duration(freshness) if freshness else None
    except InvalidDuration:
        sla = None
    overdue = None
    if sla is not None and last is not None and now - last > sla:
        overdue = (now - last - sla).total_seconds()
    return {"sla": freshness, "last_update": last.isoformat() if last else None,
            "age_seconds": (now - last).total_seconds() if last else None,
            "overdue_seconds": overdue, "stale": overdue is not None or (
                sla is not None and last is None), "updates": updates}
