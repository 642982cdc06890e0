"""Health and operational figures read from the database, for `/healthz` and `/metrics`.

Everything here is read from the database rather than kept in a process, so every web worker
answers the same, whichever process a probe or a Prometheus scrape reaches:

- health: the database answers, its schema is the code's, and the scheduler is alive (its
  next scheduled run is not overdue: a running scheduler keeps `next_run_time` in the future);
- figures: open findings by kind and severity, job executions by job and status with the last
  duration, usage events taken and refused, OpenLineage events stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import Session

from registry.store import models as m
from registry.store.db import SCHEMA_REVISION, current_revision

__all__ = ["Health", "OpsFigures", "check_health", "ops_figures"]

SCHEDULER_GRACE_SECONDS = 300  # a next run overdue by more than this means no scheduler runs


@dataclass
class Health:
    database: bool = False
    schema_current: bool = False
    revision: str | None = None
    head: str | None = None
    scheduler: str = "not scheduled"  # alive | overdue | not scheduled
    scheduler_overdue_seconds: float | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Fit to serve: the database answers with the current schema (a stopped scheduler is
        reported, not fatal: pages and the API still work)."""
        return self.database and self.schema_current

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok and self.scheduler != "overdue" else
                ("degraded" if self.ok else "failing"),
                "database": self.database, "schema": {"current": self.schema_current,
                                                      "revision": self.revision,
                                                      "head": self.head},
                "scheduler": {"state": self.scheduler,
                              "overdue_seconds": self.scheduler_overdue_seconds},
                "errors": self.errors}


def check_health(engine: Engine, *, now: datetime | None = None) -> Health:
    health = Health(head=SCHEMA_REVISION)
    try:
        health.revision = current_revision(engine)
        health.database = True
    except Exception as exc:  # noqa: BLE001 - any driver error means the database is unreachable
        health.errors.append(f"database: {type(exc).__name__}: {str(exc)[:200]}")
        return health
    health.schema_current = health.revision == health.head
    if not health.schema_current:
        health.errors.append(f"schema at {health.revision}, the code needs {health.head}: "
                             "run `featreg init`")
        return health
    with Session(engine) as session:
        next_run = session.scalar(select(func.min(m.SchedulerJob.next_run_time)))
    if next_run is not None:
        moment = (now or datetime.now(UTC)).timestamp()
        overdue = moment - float(next_run)
        health.scheduler = "overdue" if overdue > SCHEDULER_GRACE_SECONDS else "alive"
        health.scheduler_overdue_seconds = round(max(overdue, 0.0), 1)
    return health


@dataclass
class OpsFigures:
    open_findings: dict[tuple[str, str], int]
    job_runs: dict[tuple[str, str], int]
    job_last_seconds: dict[str, float]
    usage_events: int
    usage_rejected: int
    openlineage_events: int


def ops_figures(session: Session) -> OpsFigures:
    findings = session.execute(
        select(m.Finding.kind, m.Finding.severity, func.count())
        .where(m.Finding.status.in_(("open", "acknowledged")))
        .group_by(m.Finding.kind, m.Finding.severity))
    runs = session.execute(select(m.JobRun.job, m.JobRun.status, func.count())
                           .group_by(m.JobRun.job, m.JobRun.status))
    newest = (select(m.JobRun.job, func.max(m.JobRun.finished_at).label("finished"))
              .where(m.JobRun.finished_at.is_not(None)).group_by(m.JobRun.job).subquery())
    last: dict[str, float] = {}
    for job, started, finished in session.execute(
        select(m.JobRun.job, m.JobRun.started_at, m.JobRun.finished_at)
        .join(newest, and_(newest.c.job == m.JobRun.job,
                           newest.c.finished == m.JobRun.finished_at))
    ):
        if started is not None and finished is not None:
            last[job] = (finished - started).total_seconds()
    usage = session.execute(select(func.coalesce(func.sum(m.UsageIngest.events), 0),
                                   func.coalesce(func.sum(m.UsageIngest.rejected), 0))).one()
    lineage = session.scalar(select(func.count()).select_from(m.OpenLineageEvent)) or 0
    return OpsFigures(
        open_findings={(k, s): int(n) for k, s, n in findings},
        job_runs={(j, s): int(n) for j, s, n in runs},
        job_last_seconds=last, usage_events=int(usage[0]), usage_rejected=int(usage[1]),
        openlineage_events=int(lineage))
