"""Scheduled jobs: their definitions, thin bodies over the services, and recorded executions.

Every execution of a job — scheduled or run by hand — goes through `execute_job`:

1. **claim** the execution: insert the ``job_runs`` row (job, scheduled_for), unique across all
   scheduler instances sharing the database, so each scheduled fire time runs at most once;
2. take the job's **lease** (``job:<name>``); if another live instance holds it (the job is
   still running there) the execution is recorded as ``skipped``; a lease left by a holder
   that died has expired, is taken over, and that holder's unfinished run is marked
   ``abandoned``;
3. run the body while a `LeaseKeeper` renews the lease, and record ``succeeded`` (with the
   body's summary) or ``failed`` (with the error).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from registry.catalog.service import set_lifecycle
from registry.core.settings import FeatregSettings, SchedulerSettings
from registry.ops.leases import LeaseKeeper, acquire_lease, release_lease
from registry.store import models as m
from registry.store.db import session_factory, session_scope

__all__ = [
    "JOBS",
    "RUN_STATUSES",
    "JobContext",
    "JobDefinition",
    "JobOutcome",
    "enforce_sunsets",
    "execute_job",
    "job_run_to_dict",
    "list_job_runs",
]

log = logging.getLogger(__name__)
SCHEDULER_ACTOR = "scheduler"
RUN_STATUSES = ("claimed", "running", "succeeded", "failed", "skipped", "abandoned")


@dataclass(frozen=True)
class JobContext:
    """What a job body needs: where the database is, the scheduler's choices, and the
    settings the bodies read their sections from (by default the environment's, read when
    the context is made: once per scheduler instance, or per `jobs run`)."""

    url: str
    holder: str
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    lease_ttl: float = 60.0
    report_dir: Path | None = None
    test_job_sleep: float = 0.0
    settings: FeatregSettings = field(default_factory=FeatregSettings.from_env)

    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.url)


JobBody = Callable[[JobContext, datetime], dict[str, Any]]


@dataclass(frozen=True)
class JobDefinition:
    name: str
    default_schedule: str
    """Cron expression (minute hour day month day-of-week) in the scheduler's timezone."""
    description: str
    body: JobBody


# -- bodies ------------------------------------------------------------------------------------


def _rollups(ctx: JobContext, now: datetime) -> dict[str, Any]:
    """Usage is rolled up per day as it is ingested; this job checks that reads keep arriving:
    who read in the last day, and which readers are not registered consumers."""
    from registry.evidence.rollups import observed_principals

    with session_scope(ctx.sessions()) as session:
        seen = observed_principals(session, now, window_days=1)
    return {"principals": len(seen), "reads": sum(p.reads for p in seen),
            "unregistered": sorted(p.name for p in seen if not p.registered)}


def _snapshots(ctx: JobContext, now: datetime) -> dict[str, Any]:
    """Computed importance for labelled snapshots that have none yet (statistics and
    correlations are stored when a snapshot is added)."""
    from registry.findings.evidence_loader import refresh_evidence

    with session_scope(ctx.sessions()) as session:
        return dict(refresh_evidence(session, now=now, settings=ctx.settings.analysis))


def _analysis(ctx: JobContext, now: datetime) -> dict[str, Any]:
    from registry.findings.run import run_analysis

    def pause(_message: str) -> None:  # FEATREG_TEST_JOB_SLEEP: widen each step (tests only)
        if ctx.test_job_sleep > 0:
            time.sleep(ctx.test_job_sleep)

    with session_scope(ctx.sessions()) as session:  # one run, one transaction
        result = run_analysis(session, now=now, settings=ctx.settings.analysis, progress=pause)
    return {"analysis_run": result.run_id, "findings": result.summary.to_dict()}


def _freshness(ctx: JobContext, now: datetime) -> dict[str, Any]:
    from registry.findings.freshness_check import check_freshness

    with session_scope(ctx.sessions()) as session:  # a re-analysis lands in this transaction
        return check_freshness(session, now=now, settings=ctx.settings.analysis).to_dict()


def _weekly_report(ctx: JobContext, now: datetime) -> dict[str, Any]:
    from registry.reports import deliver_weekly_report, generate_weekly_report

    sessions = ctx.sessions()
    with session_scope(sessions) as session:
        result = generate_weekly_report(session, now=now, timezone=ctx.timezone,
                                        out_dir=ctx.report_dir)
    summary: dict[str, Any] = result.to_dict()
    smtp = ctx.settings.smtp
    if smtp is not None:  # only once the reports are committed
        with session_scope(sessions) as session:
            deliveries = deliver_weekly_report(session, result, smtp)
        summary["deliveries"] = {d.recipient: d.status for d in deliveries}
    return summary


def enforce_sunsets(session: Session, *, today: date, now: datetime,
                    actor: str = SCHEDULER_ACTOR) -> list[str]:
    """Retire every deprecated feature whose sunset date is before ``today`` (audited)."""
    due = list(session.scalars(
        select(m.Feature.name).where(m.Feature.status == "deprecated",
                                     m.Feature.sunset.is_not(None), m.Feature.sunset < today)
        .order_by(m.Feature.name)))
    for name in due:
        set_lifecycle(session, name, status="retired", actor=actor, now=now)
    return due


def _sunset(ctx: JobContext, now: datetime) -> dict[str, Any]:
    today = now.astimezone(ctx.timezone).date()
    with session_scope(ctx.sessions()) as session:
        retired = enforce_sunsets(session, today=today, now=now)
    return {"retired": retired, "today": today.isoformat()}


def _job(name: str, body: JobBody) -> JobDefinition:
    """A job whose default schedule and description are declared with its schedule setting."""
    default_schedule, description = SchedulerSettings.jobs()[name]
    return JobDefinition(name, default_schedule, description, body)


JOBS: dict[str, JobDefinition] = {job.name: job for job in (
    _job("rollups", _rollups), _job("snapshots", _snapshots), _job("analysis", _analysis),
    _job("freshness", _freshness),
    _job("weekly_report", _weekly_report), _job("sunset", _sunset),
)}


# -- executions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    run_id: int
    job: str
    status: str
    summary: dict[str, Any] | None
    error: str | None


def _claim(sessions: sessionmaker[Session], job: str, scheduled_for: datetime, trigger: str,
           holder: str) -> int | None:
    try:
        with session_scope(sessions) as session:
            run = m.JobRun(job=job, scheduled_for=scheduled_for, trigger=trigger,
                           status="claimed", claimed_at=datetime.now(UTC), holder=holder,
                           host=socket.gethostname(), pid=os.getpid())
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        return None


def _record(sessions: sessionmaker[Session], run_id: int, **values: Any) -> None:
    with session_scope(sessions) as session:
        session.execute(update(m.JobRun).where(m.JobRun.id == run_id).values(**values)
                        .execution_options(synchronize_session=False))


def _abandon(sessions: sessionmaker[Session], job: str, dead: str, taker: str) -> None:
    with session_scope(sessions) as session:
        session.execute(
            update(m.JobRun)
            .where(m.JobRun.job == job, m.JobRun.holder == dead,
                   m.JobRun.status.in_(("claimed", "running")))
            .values(status="abandoned", finished_at=datetime.now(UTC),
                    error=f"{dead} stopped renewing its lease; {taker} took over")
            .execution_options(synchronize_session=False))


def execute_job(ctx: JobContext, name: str, *, scheduled_for: datetime,
                trigger: str = "schedule") -> JobOutcome | None:
    """Run one execution of job ``name`` exactly once (see the module docstring).

    Returns None when another instance already claimed this (job, scheduled_for).
    """
    definition = JOBS[name]
    sessions = ctx.sessions()
    run_id = _claim(sessions, name, scheduled_for, trigger, ctx.holder)
    if run_id is None:
        return None
    lease_name = f"job:{name}"
    lease = acquire_lease(sessions, lease_name, ctx.holder, ttl=ctx.lease_ttl, job_run_id=run_id)
    if not lease.acquired:
        until = lease.expires_at.isoformat() if lease.expires_at else "?"
        busy = f"still running elsewhere: lease held by {lease.holder} until {until}"
        _record(sessions, run_id, status="skipped", finished_at=datetime.now(UTC), error=busy)
        return JobOutcome(run_id, name, "skipped", None, busy)
    if lease.previous_holder is not None:
        _abandon(sessions, name, lease.previous_holder, ctx.holder)
    started = datetime.now(UTC)
    _record(sessions, run_id, status="running", started_at=started)
    status: str = "failed"  # until the body returns
    summary: dict[str, Any] | None = None
    error: str | None = None
    try:
        with LeaseKeeper(sessions, lease_name, ctx.holder, ttl=ctx.lease_ttl) as keeper:
            summary = definition.body(ctx, started)
        status = "succeeded"
        if keeper.lost:
            error = "the lease expired while the job ran (it took longer than its renewals)"
    except Exception as exc:
        log.exception("job %s failed", name)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if status == "failed" and error is None:
            error = "interrupted"
        _record(sessions, run_id, status=status, finished_at=datetime.now(UTC),
                summary=summary, error=error)
        release_lease(sessions, lease_name, ctx.holder)
    return JobOutcome(run_id, name, status, summary, error)


def list_job_runs(session: Session, *, job: str | None = None, status: str | None = None,
                  limit: int = 50) -> list[m.JobRun]:
    """Executions, newest first."""
    query = select(m.JobRun).order_by(m.JobRun.claimed_at.desc(), m.JobRun.id.desc())
    if job:
        query = query.where(m.JobRun.job == job)
    if status:
        query = query.where(m.JobRun.status == status)
    return list(session.scalars(query.limit(limit)))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_run_to_dict(run: m.JobRun) -> dict[str, Any]:
    return {
        "id": run.id, "job": run.job, "scheduled_for": _iso(run.scheduled_for),
        "trigger": run.trigger, "status": run.status, "claimed_at": _iso(run.claimed_at),
        "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
        "error": run.error, "summary": run.summary, "holder": run.holder, "host": run.host,
        "pid": run.pid,
    }
