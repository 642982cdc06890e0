"""Analysis commands: analyze, findings (ack, suppress), explain, closure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from registry.cli import ROW_ID, AppContext, err, handle_errors, main, out, pass_app
from registry.cli.lazy import DeferredChoice, deferred
from registry.core import timeparse

if TYPE_CHECKING:
    from registry.catalog import lineage
    from registry.findings import records as findings_service
    from registry.findings.explain import explain_finding
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    explain_finding = deferred("registry.findings.explain:explain_finding")
    lineage = deferred("registry.catalog.lineage")
    findings_service = deferred("registry.findings.records")


def parse_time(value: str | None, option: str = "--now") -> datetime | None:
    """An ISO 8601 date or datetime as aware UTC (`registry.core.timeparse`; a date means its
    midnight, no timezone means UTC); a usage error (exit status 2) naming the value if it
    cannot be read."""
    if value is None:
        return None
    try:
        return timeparse.parse_time(value, assume_utc=True)
    except timeparse.InvalidTime as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@main.command()
@click.option("--now", "now_text", metavar="ISO8601",
              help="Analyse as of this time (reproducible runs); default: now.")
@pass_app
@handle_errors
def analyze(app: AppContext, now_text: str | None) -> None:
    """Run rollups, statistics, computed importance and every detector once."""
    from registry.findings.run import run_analysis

    now = parse_time(now_text)
    with session_scope(app.sessions()) as session:
        result = run_analysis(session, now=now, progress=lambda msg: err.print(f"· {msg}"))
    table = Table("kind", "new", "still open", "resolved", title=f"analysis run {result.run_id}")
    totals = [0, 0, 0]
    for kind, counts in result.summary.to_dict().items():
        row = [counts["new"], counts["still_open"], counts["resolved"]]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        table.add_row(kind, *map(str, row))
    table.add_row("[bold]total[/bold]", *map(str, totals))
    out.print(table)


@main.group(invoke_without_command=True)
@click.option("--kind", help="Only this finding kind.")
@click.option("--status", type=DeferredChoice("registry.findings.records:STATUSES"),
              help="Only this status (default: every status but resolved).")
@click.option("--owner", help="Only findings whose subject this team owns.")
@click.option("--subject", help="Only findings about this feature, source or consumer.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@handle_errors
def findings(ctx: click.Context, kind: str | None, status: str | None, owner: str | None,
             subject: str | None, fmt: str) -> None:
    """List findings; `findings ack` and `findings suppress` act on one."""
    if ctx.invoked_subcommand is not None:
        return
    app: AppContext = ctx.obj
    with session_scope(app.sessions()) as session:
        rows = [findings_service.finding_to_dict(f) for f in findings_service.list_findings(
            session, kind=kind, status=status, owner=owner, subject=subject)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("id", "kind", "subject", "severity", "status", "summary")
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], f"{r['subject']['type']} "
                      f"{escape(r['subject']['name'])}", r["severity"], r["status"],
                      escape(r["summary"]))
    out.print(table)
    out.print(f"{len(rows)} findings")


def _set_status(app: AppContext, finding_id: int, status: str, reason: str,
                until: datetime | None = None) -> None:
    with session_scope(app.sessions()) as session:
        f = findings_service.set_status(session, finding_id, status=status, reason=reason,
                                        actor=app.actor, now=datetime.now(UTC), until=until)
        out.print(f"finding {f.id} ({f.kind} {escape(f.subject_name)}) is now {f.status}")


@findings.command("ack")
@click.argument("finding_id", type=ROW_ID)
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@pass_app
@handle_errors
def ack(app: AppContext, finding_id: int, reason: str) -> None:
    """Acknowledge a finding: known, being handled."""
    _set_status(app, finding_id, "acknowledged", reason)


@findings.command("suppress")
@click.argument("finding_id", type=ROW_ID)
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.option("--until", "until_text", metavar="DATE", help="Suppress until this date "
              "(ISO 8601); default: for good.")
@pass_app
@handle_errors
def suppress(app: AppContext, finding_id: int, reason: str, until_text: str | None) -> None:
    """Suppress a finding across runs (until it expires)."""
    _set_status(app, finding_id, "suppressed", reason, parse_time(until_text, "--until"))


@findings.command("reopen")
@click.argument("finding_id", type=ROW_ID)
@click.option("--reason", required=True)
@pass_app
@handle_errors
def reopen(app: AppContext, finding_id: int, reason: str) -> None:
    """Reopen an acknowledged or suppressed finding."""
    _set_status(app, finding_id, "open", reason)


@main.command()
@click.argument("finding_id", type=ROW_ID)
@pass_app
@handle_errors
def explain(app: AppContext, finding_id: int) -> None:
    """The evidence of a finding, in words."""
    with session_scope(app.sessions()) as session:
        f = findings_service.get_finding(session, finding_id)
        lines = explain_finding(findings_service.finding_to_dict(f))
    for line in lines:
        out.print(escape(line))


@main.command()
@click.argument("consumer")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@handle_errors
def closure(app: AppContext, consumer: str, fmt: str) -> None:
    """Every feature and source CONSUMER depends on, transitively, and which carry findings."""
    with session_scope(app.sessions()) as session:
        nodes = lineage.closure(session, consumer)
        open_findings: dict[tuple[str, str], list[str]] = {}
        for f in findings_service.list_findings(session):
            open_findings.setdefault((f.subject_type, f.subject_name), []).append(
                f"{f.kind}#{f.id}")
    rows: list[dict[str, Any]] = [
        {**n.to_dict(), "findings": sorted(open_findings.get((n.type, n.name), []))}
        for n in nodes
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("depth", "type", "name", "findings")
    for r in rows:
        marker = ", ".join(r["findings"])
        table.add_row(str(r["depth"]), r["type"], escape(r["name"]),
                      f"[yellow]{escape(marker)}[/yellow]" if marker else "")
    out.print(table)
    flagged = sum(1 for r in rows if r["findings"])
    out.print(f"{len(rows)} dependencies, {flagged} with open findings")
