"""How fresh the findings on a page are: the latest analysis run, how long ago its evidence
was taken (its analysis time, the `now` it judged against), and whether that is too old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.read.common import iso
from registry.store import models as m

STALE_AFTER = timedelta(days=1)


def age_in_words(seconds: float) -> str:
    """'just now', '5 minutes', '3 hours', '17 days' (rounded down)."""
    seconds = max(0.0, seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def analysis_freshness(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The latest analysis run (None when none ran) with its age from its analysis time, and
    `stale` when that is older than a day or no analysis ever ran."""
    now = now or datetime.now(UTC)
    run = session.execute(
        select(m.AnalysisRun.id, m.AnalysisRun.analysis_time, m.AnalysisRun.finished_at)
        .order_by(m.AnalysisRun.id.desc()).limit(1)).first()
    if run is None:
        return {"run": None, "analysis_time": None, "finished_at": None, "age": None,
                "stale": True, "stale_after_hours": STALE_AFTER / timedelta(hours=1)}
    run_id, analysis_time, finished_at = run
    age = (now - analysis_time).total_seconds()
    return {"run": run_id, "analysis_time": iso(analysis_time), "finished_at": iso(finished_at),
            "age": age_in_words(age),
            "stale": age > STALE_AFTER.total_seconds(),
            "stale_after_hours": STALE_AFTER / timedelta(hours=1)}
