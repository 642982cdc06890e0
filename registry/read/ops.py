"""Read side of weekly reports and scheduler job runs: the listings of the reports and jobs pages
(and their JSON twins), one report with its neighbouring weeks, the home page's latest report.

Rows come from the ORM models through the services that own them: reports in the order of
`registry.reports.store.reports_query`, job runs as `registry.ops.jobs.job_run_to_dict`.
Listings leave out the report documents (content, Markdown, HTML) and shorten job errors;
the detail of one report has every field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, load_only

from registry.core.settings import SchedulerSettings
from registry.ops.jobs import JOBS, job_run_to_dict
from registry.read.common import Pagination, clamp_int, iso
from registry.reports.store import reports_query
from registry.store import models as m

TEXT_LIMIT = 300
REPORT_COLUMNS = ("id", "week_start", "scope", "team", "generated_at", "period_start",
                  "timezone", "analysis_run_id")
JOB_COLUMNS = ("id", "job", "scheduled_for", "trigger", "status", "claimed_at", "started_at",
               "finished_at", "error", "summary", "holder", "host", "pid")


def _report_row(row: m.WeeklyReport) -> dict[str, Any]:
    """A report as a listing row: which report, for whom, when (no documents)."""
    return {"id": row.id, "week_start": iso(row.week_start), "scope": row.scope,
            "team": row.team, "generated_at": iso(row.generated_at),
            "period_start": iso(row.period_start), "timezone": row.timezone,
            "analysis_run_id": row.analysis_run_id}


def _job_row(run: m.JobRun) -> dict[str, Any]:
    """A job run as a listing row: every field, a long error shortened."""
    row = job_run_to_dict(run)
    error = row["error"]
    if isinstance(error, str) and len(error) > TEXT_LIMIT:
        row["error"] = error[: TEXT_LIMIT - 1] + "…"
    return row


def _listed_reports(query: Select[m.WeeklyReport]) -> Select[m.WeeklyReport]:
    """The query loading only the listed columns (documents can be large)."""
    return query.options(load_only(*(getattr(m.WeeklyReport, c) for c in REPORT_COLUMNS)))


def latest_report(session: Session) -> dict[str, Any] | None:
    """The newest weekly report as a listing row, or None (no report yet)."""
    row = session.scalars(_listed_reports(reports_query()).limit(1)).first()
    return _report_row(row) if row is not None else None


def _choices(session: Session, columns: Sequence[InstrumentedAttribute[str]]
             ) -> dict[str, list[str]]:
    """The values each filter column takes, sorted (empty values left out)."""
    return {column.key: sorted(str(v) for v in session.scalars(select(column).distinct())
                               if v not in (None, ""))
            for column in columns}


def _page(session: Session, query: Select[Any], args: Mapping[str, Any]
          ) -> tuple[list[Any], Pagination]:
    """The rows of the page `args` asks for (page, per_page) and where that page sits."""
    page = clamp_int(args.get("page"), 1, 1, 1_000_000)
    per_page = clamp_int(args.get("per_page"), 50, 1, 500)
    total = session.scalar(select(func.count()).select_from(
        query.order_by(None).subquery())) or 0
    pagination = Pagination(min(page, Pagination(1, per_page, total).pages), per_page, total)
    rows = list(session.scalars(query.offset(pagination.offset).limit(per_page)))
    return rows, pagination


def _listing(items: list[dict[str, Any]], columns: Sequence[str], filters: dict[str, str],
             choices: dict[str, list[str]], pagination: Pagination) -> dict[str, Any]:
    return {"available": True, "items": items, "columns": list(columns) if items else [],
            "filters": filters, "choices": choices, "pagination": pagination.to_dict()}


def _filters(args: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    """The filters `args` sets (empty values set none)."""
    return {name: str(args[name]) for name in names if args.get(name)}


def reports_list(session: Session, args: Mapping[str, Any]) -> dict[str, Any]:
    """Weekly reports, newest week first, the org report before the teams' (filters: `team`,
    `scope`)."""
    filters = _filters(args, ("team", "scope"))
    query = reports_query(team=filters.get("team"), scope=filters.get("scope"))
    rows, pagination = _page(session, _listed_reports(query), args)
    choices = _choices(session, (m.WeeklyReport.team, m.WeeklyReport.scope))
    return _listing([_report_row(r) for r in rows], REPORT_COLUMNS, filters, choices,
                    pagination)


def report_detail(session: Session, report_id: int) -> dict[str, Any] | None:
    """One report with every field, and the ids of the same team's (or the org's) previous
    and next weeks. None when there is no such report."""
    row = session.get(m.WeeklyReport, report_id)
    if row is None:
        return None
    report = {**_report_row(row), "content": row.content, "markdown": row.markdown,
              "html": row.html}
    same = select(m.WeeklyReport.id).where(m.WeeklyReport.scope == row.scope,
                                           m.WeeklyReport.team == row.team)
    week = m.WeeklyReport.week_start
    return {"report": report,
            "previous": session.scalar(same.where(week < row.week_start)
                                       .order_by(week.desc()).limit(1)),
            "next": session.scalar(same.where(week > row.week_start).order_by(week).limit(1))}


def jobs_list(session: Session, args: Mapping[str, Any]) -> dict[str, Any]:
    """Scheduler job runs, newest scheduled time first (filters: `job`, `status`)."""
    filters = _filters(args, ("job", "status"))
    query = select(m.JobRun).order_by(m.JobRun.scheduled_for.desc(), m.JobRun.id.desc())
    if "job" in filters:
        query = query.where(m.JobRun.job == filters["job"])
    if "status" in filters:
        query = query.where(m.JobRun.status == filters["status"])
    rows, pagination = _page(session, query, args)
    choices = _choices(session, (m.JobRun.job, m.JobRun.status))
    return _listing([_job_row(r) for r in rows], JOB_COLUMNS, filters, choices, pagination)


def jobs_overview(session: Session, settings: SchedulerSettings,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """Every scheduled job: what it does, its schedule, its last run (status, when, how long,
    error) and its next run — from the scheduler's job store once a scheduler has started,
    else from the schedule itself (`next_run_from`: "scheduler" or "schedule")."""
    now = now or datetime.now(UTC)
    stored = dict(session.execute(select(m.SchedulerJob.id, m.SchedulerJob.next_run_time)).all())
    newest = select(func.max(m.JobRun.id)).group_by(m.JobRun.job)
    last = {run.job: run for run in session.scalars(select(m.JobRun)
                                                     .where(m.JobRun.id.in_(newest)))}
    triggers = settings.triggers()
    rows = []
    for name, job in JOBS.items():
        stamp = stored.get(name)
        if stamp is not None:
            upcoming: datetime | None = datetime.fromtimestamp(stamp, UTC)
        else:
            upcoming = triggers[name].get_next_fire_time(None, now.astimezone(settings.zone))
        run = last.get(name)
        duration = (round((run.finished_at - run.started_at).total_seconds(), 3)
                    if run is not None and run.started_at and run.finished_at else None)
        rows.append({
            "job": name, "description": job.description,
            "schedule": settings.schedules.get(name, job.default_schedule),
            "timezone": settings.timezone,
            "next_run": iso(upcoming.astimezone(settings.zone)) if upcoming else None,
            "next_run_from": "scheduler" if stamp is not None else "schedule",
            "last_run": None if run is None else {
                "id": run.id, "status": run.status, "trigger": run.trigger,
                "started_at": iso(run.started_at or run.claimed_at),
                "finished_at": iso(run.finished_at), "duration_seconds": duration,
                "error": _job_row(run)["error"]},
        })
    return rows
