"""Operations commands: scheduler, jobs (run), report weekly, reports (show)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from registry.cli import LIMIT, ROW_ID, AppContext, err, handle_errors, main, out, pass_app
from registry.cli.analysis_commands import parse_time
from registry.cli.lazy import DeferredChoice, deferred
from registry.core.errors import FeatregError

if TYPE_CHECKING:
    from registry.ops import jobs as jobs_service
    from registry.ops.scheduler import SchedulerSettings, job_overview, run_job_now, run_scheduler
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    jobs_service = deferred("registry.ops.jobs")
    SchedulerSettings = deferred("registry.ops.scheduler:SchedulerSettings")
    job_overview = deferred("registry.ops.scheduler:job_overview")
    run_job_now = deferred("registry.ops.scheduler:run_job_now")
    run_scheduler = deferred("registry.ops.scheduler:run_scheduler")

JOB_NAMES = DeferredChoice("registry.ops.jobs:JOBS")


def _settings() -> SchedulerSettings:
    return SchedulerSettings.from_env()


@main.command()
@pass_app
@handle_errors
def scheduler(app: AppContext) -> None:
    """Run the scheduled jobs until interrupted (schedules: FEATREG_SCHEDULE_<JOB>).

    Several schedulers may share one database: each scheduled execution runs once.
    """
    settings = _settings()
    app.sessions()  # refuse a database without the current schema before starting
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    for name, trigger in settings.triggers().items():
        err.print(f"· {name}: {escape(str(trigger))} ({settings.timezone})")
    err.print("scheduler running; Ctrl-C to stop")
    run_scheduler(app.db, settings, stop)
    err.print("scheduler stopped")


def _time(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


@main.group(invoke_without_command=True)
@click.option("--job", "job_name", type=JOB_NAMES,
              help="Only executions of this job.")
@click.option("--status", type=DeferredChoice("registry.ops.jobs:RUN_STATUSES"))
@click.option("--limit", default=20, show_default=True, type=LIMIT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@handle_errors
def jobs(ctx: click.Context, job_name: str | None, status: str | None, limit: int,
         fmt: str) -> None:
    """The scheduled jobs and their recent executions; `jobs run NAME` runs one now."""
    if ctx.invoked_subcommand is not None:
        return
    app: AppContext = ctx.obj
    settings = _settings()
    with session_scope(app.sessions()) as session:
        overview = job_overview(session, settings)
        runs = [jobs_service.job_run_to_dict(r) for r in jobs_service.list_job_runs(
            session, job=job_name, status=status, limit=limit)]
    if fmt == "json":
        click.echo(json.dumps({"jobs": overview, "runs": runs}, indent=2))
        return
    table = Table("job", "schedule", "next run", "last", title=f"jobs ({settings.timezone})")
    for row in overview:
        table.add_row(row["job"], escape(row["schedule"]), _time(row["next_run"]),
                      f"{row['last_status'] or ''} {_time(row['last_scheduled_for'])}")
    out.print(table)
    table = Table("id", "job", "scheduled for", "trigger", "status", "took", "host:pid",
                  "error / summary", title="recent executions")
    for r in runs:
        took = ""
        if r["started_at"] and r["finished_at"]:
            seconds = (datetime.fromisoformat(r["finished_at"])
                       - datetime.fromisoformat(r["started_at"])).total_seconds()
            took = f"{seconds:.1f}s"
        note = r["error"] or (json.dumps(r["summary"], default=str)[:80] if r["summary"] else "")
        table.add_row(str(r["id"]), r["job"], _time(r["scheduled_for"]), r["trigger"],
                      r["status"], took, f"{r['host']}:{r['pid']}", escape(note))
    out.print(table)


@jobs.command("run")
@click.argument("name", type=JOB_NAMES)
@pass_app
@handle_errors
def jobs_run(app: AppContext, name: str) -> None:
    """Run job NAME now, through the same lease as scheduled runs."""
    app.sessions()
    outcome = run_job_now(app.db, name, _settings())
    click.echo(json.dumps({"run": outcome.run_id, "job": name, "status": outcome.status,
                           "error": outcome.error, "summary": outcome.summary},
                          indent=2, default=str))
    if outcome.status != "succeeded":
        raise FeatregError(f"job {name} {outcome.status}: {outcome.error}")


@main.group()
def report() -> None:
    """Reports: `report weekly` writes the weekly deprecation report."""


@report.command("weekly")
@click.option("--now", "now_text", metavar="ISO8601",
              help="Report as of this time (its week, in the report timezone); default: now.")
@click.option("--team", help="Only this team's report.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="reports",
              show_default=True, help="Folder for the HTML, Markdown and JSON files.")
@click.option("--timezone", "timezone", envvar="FEATREG_REPORT_TIMEZONE", default="UTC",
              show_default=True, help="Timezone of report weeks [env FEATREG_REPORT_TIMEZONE].")
@click.option("--send", is_flag=True, help="Also e-mail each team's report (FEATREG_SMTP_*).")
@pass_app
@handle_errors
def report_weekly(app: AppContext, now_text: str | None, team: str | None, out_dir: str,
                  timezone: str, send: bool) -> None:
    """Write and store the weekly deprecation report (one per team, plus the org summary)."""
    from registry import reports as reports_service  # matplotlib and Jinja load on demand

    SchedulerSettings(timezone=timezone)  # validates the timezone with a clear message
    smtp = reports_service.SmtpSettings.from_env() if send else None
    if send and smtp is None:
        raise FeatregError("--send needs FEATREG_SMTP_HOST (and the other FEATREG_SMTP_* "
                           "settings)")
    sessions = app.sessions()
    with session_scope(sessions) as session:
        result = reports_service.generate_weekly_report(
            session, now=parse_time(now_text), timezone=timezone, team=team,
            out_dir=Path(out_dir))
    out.print(f"weekly report {result.week.label} (week of {result.week.start}, {timezone})")
    for stored in ([result.org] if result.org else []) + result.teams:
        out.print(f"  stored report {stored.id}: {escape(stored.team or 'org summary')}")
    for path in result.files:
        out.print(f"  wrote {escape(str(path))}")
    if smtp is not None:  # only once the reports are committed
        with session_scope(sessions) as session:
            deliveries = reports_service.deliver_weekly_report(session, result, smtp)
        for delivery in deliveries:
            note = f" ({escape(delivery.error)})" if delivery.error else ""
            out.print(f"  e-mail to {escape(delivery.recipient)}: {delivery.status} after "
                      f"{delivery.attempts} attempt(s){note}")


@main.group(invoke_without_command=True)
@click.option("--team", help="Only this team's reports.")
@click.option("--limit", default=50, show_default=True, type=LIMIT)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@handle_errors
def reports(ctx: click.Context, team: str | None, limit: int, fmt: str) -> None:
    """Stored weekly reports, newest first; `reports show ID` prints one."""
    if ctx.invoked_subcommand is not None:
        return
    from registry.reports.store import list_reports, report_summary

    app: AppContext = ctx.obj
    with session_scope(app.sessions()) as session:
        rows: list[dict[str, Any]] = [report_summary(r) for r in
                                      list_reports(session, team=team, limit=limit)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "week", "report", "generated", "open", "debt", "candidates")
    for r in rows:
        table.add_row(str(r["id"]), r["week"] or r["week_start"], escape(r["team"] or "org"),
                      _time(r["generated_at"]), str(r["open"]), str(r["debt_score"]),
                      str(r["candidates"]))
    out.print(table)


@reports.command("show")
@click.argument("report_id", type=ROW_ID)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json", "html"]),
              default="markdown", show_default=True)
@pass_app
@handle_errors
def reports_show(app: AppContext, report_id: int, fmt: str) -> None:
    """Print a stored report."""
    from registry.reports.render import render_json
    from registry.reports.store import get_report

    with session_scope(app.sessions()) as session:
        row = get_report(session, report_id)
        text = {"markdown": row.markdown, "html": row.html,
                "json": render_json(row.content)}[fmt]
    click.echo(text, nl=False)
