"""The APScheduler wiring: schedules from settings, the job store in the Featreg database, and
an executor that hands every execution its scheduled fire time.

Several scheduler instances (``featreg scheduler`` processes, ``featreg serve`` workers) may
share one database: they share APScheduler's job store, may all wake up for the same fire
time, and `registry.ops.jobs.execute_job` lets exactly one of them run it (a unique claim per
(job, fire time) plus a lease per job). Job definitions persist in the job store; a missed
fire time (every instance was down) is run once on start: ``coalesce=True`` and a generous
``misfire_grace_time``.

Schedules are cron expressions in one timezone (``FEATREG_REPORT_TIMEZONE``): the scheduler
section of the settings (`registry.core.settings.SchedulerSettings`) declares every one.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.core.settings import FeatregSettings, SchedulerSettings, parse_schedule
from registry.ops.jobs import JOBS, JobContext, JobOutcome, execute_job
from registry.ops.leases import new_holder
from registry.store import models as m
from registry.store.db import check_schema, database_url, get_engine

__all__ = [
    "SchedulerSettings",
    "job_context",
    "job_overview",
    "parse_schedule",
    "run_job_now",
    "run_scheduled",
    "start_background_scheduler",
]


def job_context(settings: SchedulerSettings, url: str, holder: str) -> JobContext:
    """What every execution of this scheduler instance needs: the database, the holder name,
    the scheduler's section and the rest of the settings (read now, from the environment)."""
    return JobContext(url=url, holder=holder, timezone=settings.zone, lease_ttl=settings.lease_ttl,
                      report_dir=Path(settings.report_dir) if settings.report_dir else None,
                      test_job_sleep=settings.test_job_sleep,
                      settings=FeatregSettings.from_env(scheduler=settings))


def run_scheduled(name: str, *, ctx: JobContext | None = None,
                  scheduled_for: datetime | None = None) -> JobOutcome | None:
    """The function stored in the job store; the executor supplies context and fire time."""
    if ctx is None or scheduled_for is None:
        raise RuntimeError("run_scheduled needs the Featreg executor (ctx and scheduled_for)")
    return execute_job(ctx, name, scheduled_for=scheduled_for)


class _Execution:
    """What APScheduler's `run_job` calls: one stored job with context and fire time added."""

    def __init__(self, job: Job, ctx: JobContext, run_time: datetime) -> None:
        self.id, self.name = job.id, job.name
        self.misfire_grace_time = job.misfire_grace_time
        self.func = run_scheduled
        self.args = tuple(job.args)
        self.kwargs = {**job.kwargs, "ctx": ctx, "scheduled_for": run_time}

    def __str__(self) -> str:
        return f"{self.name} ({self.kwargs['scheduled_for'].isoformat()})"


class FeatregExecutor(ThreadPoolExecutor):  # type: ignore[misc]
    """A thread pool that passes each execution its scheduled fire time and the job context."""

    def __init__(self, ctx: JobContext, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self.ctx = ctx

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        def run_all() -> list[Any]:
            events: list[Any] = []
            for run_time in run_times:
                events += run_job(_Execution(job, self.ctx, run_time), job._jobstore_alias,
                                  [run_time], self._logger.name)
            return events

        def done(future: Future[list[Any]]) -> None:
            error = future.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(run_all).add_done_callback(done)


def _trigger_key(trigger: Any) -> tuple[str, str]:
    return str(trigger), str(getattr(trigger, "timezone", ""))


def _sync_jobs(scheduler: BackgroundScheduler, settings: SchedulerSettings) -> None:
    """Make the stored jobs match the settings, keeping stored next run times (missed runs)."""
    wanted = settings.triggers()
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
    for name, trigger in wanted.items():
        existing = scheduler.get_job(name)
        if existing is None:
            try:
                scheduler.add_job("registry.ops.scheduler:run_scheduled", trigger=trigger, id=name,
                                  name=name, args=[name], replace_existing=False)
            except ConflictingIdError:  # another instance added it a moment ago
                pass
            continue
        if _trigger_key(existing.trigger) != _trigger_key(trigger):
            scheduler.reschedule_job(name, trigger=trigger)
        if existing.misfire_grace_time != settings.misfire_grace:
            scheduler.modify_job(name, misfire_grace_time=settings.misfire_grace)


def start_background_scheduler(url: str | None = None,
                               settings: SchedulerSettings | None = None, *,
                               holder: str | None = None) -> BackgroundScheduler:
    """Start the scheduler in a background thread of this process (``featreg serve`` and
    ``featreg scheduler``); stop it with ``scheduler.shutdown()``."""
    settings = settings or SchedulerSettings.from_env()
    url = database_url(url)
    engine = get_engine(url)
    check_schema(engine)
    ctx = job_context(settings, url, holder or new_holder())
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine,
                                                 tablename=m.SchedulerJob.__tablename__)},
        executors={"default": FeatregExecutor(ctx)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": settings.misfire_grace},
        timezone=settings.zone,
    )
    scheduler.start(paused=True)
    try:
        _sync_jobs(scheduler, settings)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    scheduler.resume()
    return scheduler


def run_scheduler(url: str | None, settings: SchedulerSettings, stop: threading.Event,
                  *, poll: float = 0.2) -> None:
    """Run the scheduler until ``stop`` is set, then wait for running jobs to finish.

    ``stop`` may be set by a signal handler: this thread polls it instead of waiting on it
    (a handler that sets an Event while the same thread sits in its wait can deadlock on the
    Event's lock)."""
    scheduler = start_background_scheduler(url, settings)
    try:
        while not stop.is_set():
            time.sleep(poll)
    finally:
        scheduler.shutdown(wait=True)


def run_job_now(url: str | None, name: str, settings: SchedulerSettings | None = None
                ) -> JobOutcome:
    """Run one job now, through the same claim and lease as scheduled executions."""
    settings = settings or SchedulerSettings.from_env()
    ctx = job_context(settings, database_url(url), new_holder())
    outcome = execute_job(ctx, name, scheduled_for=datetime.now(UTC), trigger="manual")
    assert outcome is not None  # a fresh fire time cannot be claimed already
    return outcome


def job_overview(session: Session, settings: SchedulerSettings) -> list[dict[str, Any]]:
    """Every job: schedule, next run (from the job store), last execution."""
    next_runs = {job_id: stamp for job_id, stamp in session.execute(
        select(m.SchedulerJob.id, m.SchedulerJob.next_run_time))}
    latest = (select(m.JobRun.job, func.max(m.JobRun.id).label("id"))
              .group_by(m.JobRun.job).subquery())
    last_runs = {run.job: run for run in session.scalars(
        select(m.JobRun).join(latest, m.JobRun.id == latest.c.id))}
    rows = []
    for name, job in JOBS.items():
        stamp = next_runs.get(name)
        last = last_runs.get(name)
        rows.append({
            "job": name, "description": job.description,
            "schedule": settings.schedules.get(name, job.default_schedule),
            "timezone": settings.timezone,
            "next_run": (datetime.fromtimestamp(stamp, UTC).astimezone(settings.zone).isoformat()
                         if stamp is not None else None),
            "last_status": last.status if last else None,
            "last_scheduled_for": last.scheduled_for.isoformat() if last else None,
        })
    return rows
