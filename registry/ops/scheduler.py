"""The APScheduler wiring: schedules from settings, the job store in the Featreg database, and
an executor that hands every execution its scheduled fire time.

Several scheduler instances (``featreg scheduler`` processes, ``featreg serve`` workers) may
share one database: they share APScheduler's job store, may all wake up for the same fire
time, and `registry.ops.jobs.execute_job` lets exactly one of them run it (a unique claim per
(job, fire time) plus a lease per job). Job definitions persist in the job store; a missed
fire time (every instance was down) is run once on start: ``coalesce=True`` and a generous
``misfire_grace_time``.

Schedules are cron expressions in one timezone (``FEATREG_REPORT_TIMEZONE``); see
`SchedulerSettings.documentation` for every setting.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.core.settings import SettingsError
from registry.ops.jobs import JOBS, JobContext, JobOutcome, execute_job
from registry.ops.leases import new_holder
from registry.store import models as m
from registry.store.db import check_schema, database_url, get_engine

__all__ = [
    "SchedulerSettings",
    "job_overview",
    "parse_schedule",
    "run_job_now",
    "run_scheduled",
    "start_background_scheduler",
]

DEFAULT_MISFIRE_GRACE = 31 * 24 * 3600.0
_WEEKDAY_NUMBER = re.compile(r"(?<![\d/])\d")


def parse_schedule(expression: str, timezone: ZoneInfo) -> CronTrigger | None:
    """A cron trigger from ``minute hour day month day-of-week`` (five fields) or with a
    leading seconds field (six fields); ``off`` disables the job (None).

    Day-of-week must use names (``mon``, ``mon-fri``): APScheduler 3 numbers days from Monday
    = 0, unlike cron, so numbers would silently shift by a day.
    """
    text = expression.strip()
    if text.lower() in ("off", "disabled", "none", ""):
        return None
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"{expression!r} has {len(fields)} fields; a schedule has 5 "
                         "(minute hour day month day-of-week) or 6 (with seconds first)")
    second = fields[0] if len(fields) == 6 else "0"
    minute, hour, day, month, day_of_week = fields[-5:]
    if _WEEKDAY_NUMBER.search(day_of_week):
        raise ValueError(f"{expression!r}: write day-of-week as names (mon, tue, ..., sun; "
                         "mon-fri), not numbers")
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=day_of_week, timezone=timezone)


def _number(environ: Mapping[str, str], variable: str, default: float, minimum: float) -> float:
    raw = environ.get(variable)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not a number") from None
    if not value >= minimum:
        raise SettingsError(f"{variable}={raw!r} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class SchedulerSettings:
    """Schedules and scheduler options. Construct with keywords or `SchedulerSettings.from_env`."""

    schedules: Mapping[str, str] = field(
        default_factory=lambda: {name: job.default_schedule for name, job in JOBS.items()})
    timezone: str = "UTC"
    lease_ttl: float = 60.0
    misfire_grace: float = DEFAULT_MISFIRE_GRACE
    report_dir: str | None = None
    test_job_sleep: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.schedules) - set(JOBS)
        if unknown:
            raise SettingsError(f"no job named {', '.join(sorted(unknown))}; jobs are "
                                f"{', '.join(JOBS)}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"FEATREG_REPORT_TIMEZONE={self.timezone!r} is not an IANA "
                                "timezone (e.g. Europe/Berlin)") from None
        for name, expression in self.schedules.items():
            try:
                parse_schedule(expression, self.zone)
            except ValueError as exc:
                raise SettingsError(f"{self.env_name(name)}: {exc}") from None

    @staticmethod
    def env_name(job: str) -> str:
        return f"FEATREG_SCHEDULE_{job.upper()}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any
                 ) -> SchedulerSettings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "schedules": {name: environ.get(cls.env_name(name), job.default_schedule)
                          for name, job in JOBS.items()},
            "timezone": environ.get("FEATREG_REPORT_TIMEZONE", "UTC"),
            "lease_ttl": _number(environ, "FEATREG_SCHEDULER_LEASE_TTL", 60.0, 1.0),
            "misfire_grace": _number(environ, "FEATREG_SCHEDULER_MISFIRE_GRACE",
                                     DEFAULT_MISFIRE_GRACE, 1.0),
            "report_dir": environ.get("FEATREG_REPORT_DIR") or None,
            "test_job_sleep": _number(environ, "FEATREG_TEST_JOB_SLEEP", 0.0, 0.0),
        }
        return cls(**{**values, **overrides})

    @classmethod
    def documentation(cls) -> list[tuple[str, str, str]]:
        """One row per setting: (environment variable, default, what it does)."""
        rows = [(cls.env_name(name), job.default_schedule,
                 f"When the `{name}` job runs: {job.description} Cron fields minute hour day "
                 "month day-of-week (day names), optionally seconds first; `off` disables it.")
                for name, job in JOBS.items()]
        rows += [
            ("FEATREG_REPORT_TIMEZONE", "UTC", "IANA timezone of every schedule, of report "
             "weeks (Monday 00:00 to Monday 00:00) and of sunset dates."),
            ("FEATREG_SCHEDULER_LEASE_TTL", "60", "Seconds a job's lease lasts without renewal "
             "(renewed every third of it while the job runs): how long other instances wait "
             "before taking over from an instance that died."),
            ("FEATREG_SCHEDULER_MISFIRE_GRACE", str(int(DEFAULT_MISFIRE_GRACE)), "Seconds a "
             "missed fire time may be late and still run (once, coalesced) on start."),
            ("FEATREG_REPORT_DIR", "(none)", "Folder where the weekly job also writes the "
             "report files; reports are always stored in the database."),
            ("FEATREG_TEST_JOB_SLEEP", "0", "Tests only: seconds the analysis job pauses at "
             "each step, to kill a scheduler in the middle of a job."),
        ]
        return rows

    def triggers(self) -> dict[str, CronTrigger]:
        """The enabled jobs' triggers."""
        found = {name: parse_schedule(expr, self.zone) for name, expr in self.schedules.items()}
        return {name: trigger for name, trigger in found.items() if trigger is not None}

    def context(self, url: str, holder: str) -> JobContext:
        return JobContext(url=url, holder=holder, timezone=self.zone, lease_ttl=self.lease_ttl,
                          report_dir=Path(self.report_dir) if self.report_dir else None,
                          test_job_sleep=self.test_job_sleep)


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
    ctx = settings.context(url, holder or new_holder())
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
    ctx = settings.context(database_url(url), new_holder())
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
