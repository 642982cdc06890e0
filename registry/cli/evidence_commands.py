"""Evidence commands: usage (ingest, rejected, summary, principals), importance (ingest, show),
snapshot (add, correlate, list, importance)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from registry.cli import LIMIT, ROW_ID, AppContext, err, handle_errors, main, out, pass_app
from registry.cli.analysis_commands import parse_time
from registry.cli.lazy import DeferredValue, deferred
from registry.core.errors import InvalidInput, Problem

if TYPE_CHECKING:
    from rich.progress import Progress

    from registry.evidence import importance as importance_service
    from registry.evidence import rollups, snapshots, usage
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    importance_service = deferred("registry.evidence.importance")
    rollups = deferred("registry.evidence.rollups")
    snapshots = deferred("registry.evidence.snapshots")
    usage = deferred("registry.evidence.usage")

PROGRESS_MIN_BYTES = 8 * 2**20
"""Files at least this large get a progress bar (on stderr)."""

DEFAULT_THRESHOLD = DeferredValue("registry.evidence.snapshots:DEFAULT_CORRELATION_THRESHOLD")
DEFAULT_REPEATS = DeferredValue("registry.evidence.snapshots:DEFAULT_REPEATS")

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                      show_default=True)


def _now(value: str | None) -> datetime:
    """--now: ISO 8601 (`parse_time`: a date means its midnight; no timezone means UTC),
    default now."""
    return (parse_time(value) if value else None) or datetime.now(UTC)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A callback that shows a rich progress bar on stderr once a file is long enough."""
    bar: Progress | None = None
    task = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if total < PROGRESS_MIN_BYTES:
                return
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            bar = Progress("[progress.description]{task.description}", BarColumn(),
                           DownloadColumn(), TimeRemainingColumn(), console=err, transient=True)
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done)  # type: ignore[arg-type]

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def _table(columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*(escape("" if v is None else str(v)) for v in row))
    out.print(table)


# -- usage -------------------------------------------------------------------------------------
@main.group("usage")
def usage_group() -> None:
    """Observed reads: ingest JSON Lines, list rejected lines, summarise."""


ENGINE = click.option("--engine", type=click.Choice(["local", "spark"]), default=None,
                      help="Where the work runs: local (this process) or spark (Apache Spark); "
                      "default: the FEATREG_ENGINE setting, else local.")


@usage_group.command("ingest")
@click.argument("source", metavar="FILE|-")
@ENGINE
@pass_app
@handle_errors
def usage_ingest(app: AppContext, source: str, engine: str | None) -> None:
    """Ingest usage events (JSON Lines) from FILE or stdin (-); with an engine, also Parquet
    logs and folders of logs (spark: any URI Spark reads, such as s3a://bucket/logs/).

    Re-ingesting content already taken adds nothing; a file that grew is taken from where
    the last ingest of it ended. Lines that cannot be taken are kept with their reason.
    """
    from registry.engines import aggregate_usage_logs, chosen_engine, needs_an_engine

    chosen = chosen_engine(engine)
    aggregate = None
    if source != "-" and (chosen != "local" or needs_an_engine(source)):
        aggregate = aggregate_usage_logs(chosen, source)  # before the transaction opens
    with _progress(f"ingesting {source}") as progress, session_scope(app.sessions()) as session:
        if aggregate is not None:
            summary = usage.ingest_usage_aggregate(session, aggregate, source=source,
                                                   actor=app.actor)
        elif source == "-":
            summary = usage.ingest_usage_stream(session, sys.stdin.buffer, actor=app.actor,
                                                progress=progress)
        else:
            summary = usage.ingest_usage_file(session, source, actor=app.actor,
                                              progress=progress)
    if summary.already_ingested:
        out.print(f"Nothing new: the {summary.lines:,} lines of {escape(source)} were already "
                  "ingested.")
        return
    if summary.skipped_lines:
        out.print(f"Lines 1-{summary.skipped_lines:,} were already ingested; took lines "
                  f"{summary.skipped_lines + 1:,}-{summary.lines:,}.")
    message = f"{summary.events:,} events taken ({summary.reads:,} reads)"
    if summary.rejected:
        message = (f"{summary.events:,} events taken, {summary.rejected:,} rejected: see "
                   "featreg usage rejected")
    out.print(message)
    unknown = summary.unknown_feature_reads
    if unknown:
        top = list(unknown.items())[:10]
        shown = ", ".join(f"{escape(name)} ({count:,})" for name, count in top)
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        out.print(f"{sum(unknown.values()):,} reads of {_plural(len(unknown), 'feature')} not "
                  f"in the catalog: {shown}{more}")
    principals = summary.unregistered_principals
    if principals:
        more = f" and {len(principals) - 10} more" if len(principals) > 10 else ""
        out.print(f"principals not registered as consumers: "
                  f"{escape(', '.join(principals[:10]))}{more}")


@usage_group.command("rejected")
@click.option("--ingest", "ingest_id", type=ROW_ID, help="Only lines of this ingest.")
@click.option("--limit", type=LIMIT, default=100, show_default=True)
@FORMAT
@pass_app
@handle_errors
def usage_rejected(app: AppContext, ingest_id: int | None, limit: int, fmt: str) -> None:
    """Lines that could not be taken, with file, line number and reason."""
    with session_scope(app.sessions()) as session:
        lines = usage.rejected_lines(session, ingest_id=ingest_id, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([{**asdict(r), "ingested_at": _iso(r.ingested_at)}
                               for r in lines], indent=2))
        return
    _table(["ingest", "source", "line", "reason", "text"],
           [[r.ingest_id, r.source, r.line_number, r.reason, r.raw[:60]] for r in lines])
    out.print(f"{len(lines)} rejected lines" + (" (limit reached)" if len(lines) == limit else ""))


@usage_group.command("summary")
@click.option("--now", help="Count windows back from this time (ISO 8601; default now).")
@click.option("--feature", "features", multiple=True, help="Only this feature (repeatable).")
@FORMAT
@pass_app
@handle_errors
def usage_summary(app: AppContext, now: str | None, features: tuple[str, ...], fmt: str) -> None:
    """Per feature: last read, reads in the last 7/30/90 days, distinct readers."""
    with session_scope(app.sessions()) as session:
        rows = rollups.feature_usage(session, _now(now), features=features or None)
    if fmt == "json":
        click.echo(json.dumps([{**asdict(r), "last_read": _iso(r.last_read) or None}
                               for r in rows.values()], indent=2))
        return
    _table(["feature", "catalog", "last read", "7d", "30d", "90d", "readers 90d", "readers"],
           [[r.feature, "yes" if r.in_catalog else "no", _iso(r.last_read) or "never",
             f"{r.reads_7d:,}", f"{r.reads_30d:,}", f"{r.reads_90d:,}", r.readers_90d,
             r.readers] for r in rows.values()])


@usage_group.command("principals")
@click.option("--now", help="Count the window back from this time (ISO 8601; default now).")
@click.option("--window", type=click.IntRange(min=1), default=90, show_default=True,
              help="Days counted.")
@FORMAT
@pass_app
@handle_errors
def usage_principals(app: AppContext, now: str | None, window: int, fmt: str) -> None:
    """Every principal seen reading, registered as a consumer or not."""
    with session_scope(app.sessions()) as session:
        rows = rollups.observed_principals(session, _now(now), window_days=window)
    if fmt == "json":
        click.echo(json.dumps([{**asdict(r), "last_read": _iso(r.last_read)} for r in rows],
                              indent=2))
        return
    _table(["principal", "registered", "features", f"reads {window}d", "last read"],
           [[r.name, "yes" if r.registered else "no", r.features, f"{r.reads:,}",
             _iso(r.last_read)] for r in rows])


# -- importance --------------------------------------------------------------------------------
@main.group("importance")
def importance_group() -> None:
    """Feature importance per consumer: ingest CSV, show the latest reports."""


@importance_group.command("ingest")
@click.argument("path", metavar="FILE", type=click.Path())
@pass_app
@handle_errors
def importance_ingest(app: AppContext, path: str) -> None:
    """Ingest importance rows (CSV: consumer,feature,importance[,method,metric,ts]).

    All or nothing: a file with a bad row is refused and every problem is listed.
    """
    with session_scope(app.sessions()) as session:
        summary = importance_service.ingest_importance_csv(session, path, actor=app.actor)
    out.print(f"{summary.rows:,} rows: {len(summary.created)} reports created, "
              f"{len(summary.replaced)} replaced, {len(summary.unchanged)} unchanged")
    if summary.unknown_features:
        out.print(f"features not in the catalog: {escape(', '.join(summary.unknown_features))}")


@importance_group.command("show")
@click.argument("consumer", required=False)
@FORMAT
@pass_app
@handle_errors
def importance_show(app: AppContext, consumer: str | None, fmt: str) -> None:
    """The latest importance report per consumer (or of CONSUMER)."""
    with session_scope(app.sessions()) as session:
        reports = importance_service.latest_reports(
            session, consumers=None if consumer is None else [consumer])
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in reports.values()], indent=2))
        return
    for report in reports.values():
        out.print(f"[bold]{escape(report.consumer)}[/bold] {_iso(report.reported_at)} "
                  f"{escape(report.method)} {escape(report.metric or '')} ({report.source})")
        ranked = sorted(report.values.items(), key=lambda item: -item[1].value)
        _table(["feature", "importance", "std", "repeats"],
               [[name, f"{e.value:.6g}", "" if e.std is None else f"{e.std:.3g}", e.repeats]
                for name, e in ranked])


# -- snapshots ---------------------------------------------------------------------------------
@main.group("snapshot")
def snapshot_group() -> None:
    """Data snapshots: register (statistics, correlations, importance), correlate any file."""


@snapshot_group.command("add")
@click.argument("path", metavar="FILE", type=click.Path())
@click.option("--label", help="The label column (target) of the sample.")
@click.option("--consumer", help="The consumer whose declared features the label is for.")
@click.option("--name", help="A name for the snapshot (default: the file name).")
@click.option("--threshold", type=click.FloatRange(0, 1),
              default=DEFAULT_THRESHOLD, show_default=True,
              help="Store correlated pairs at or above this |r|.")
@click.option("--repeats", type=click.IntRange(min=1), default=DEFAULT_REPEATS,
              show_default=True, help="Permutation repeats of computed importance.")
@click.option("--no-importance", is_flag=True, help="Do not compute importance now.")
@click.option("--taken-at", "taken_at",
              help="When the sample was taken (ISO 8601 with a timezone; default now).")
@ENGINE
@pass_app
@handle_errors
def snapshot_add(app: AppContext, path: str, label: str | None, consumer: str | None,
                 name: str | None, threshold: float, repeats: int, no_importance: bool,
                 taken_at: str | None, engine: str | None) -> None:
    """Register a Parquet or CSV sample of feature values taken at a time (spark engine: a
    Parquet file, folder or URI too big for one machine)."""
    from registry.cli.health_commands import aware_time
    from registry.engines import chosen_engine, get_engine

    now = datetime.now(UTC)
    moment = aware_time(taken_at, "--taken-at", now=now)
    chosen = chosen_engine(engine)
    with session_scope(app.sessions()) as session:
        s = snapshots.add_snapshot(session, path, label=label, consumer=consumer, name=name,
                                   threshold=threshold, repeats=repeats, actor=app.actor,
                                   compute_importance=False if no_importance else None,
                                   taken_at=moment, now=now,
                                   engine=None if chosen == "local" else get_engine(chosen))
    if s.already_registered:
        out.print(f"Already registered as snapshot {s.id} ({escape(s.name)}).")
        return
    out.print(f"Snapshot {s.id} ({escape(s.name)}): {s.rows:,} rows, {len(s.features)} "
              f"features, {s.correlations} correlated pairs at |r| >= {threshold:g}")
    if s.unknown_columns:
        out.print(f"columns not in the catalog (ignored): {escape(', '.join(s.unknown_columns))}")
    if not s.features:
        err.print("[yellow]no column of this snapshot is a feature of the catalog:[/yellow] "
                  "it is registered, but gives no feature statistics")
    if s.importance_report_id is not None:
        out.print(f"computed importance for {escape(s.consumer or '')}: report "
                  f"{s.importance_report_id}")
        if s.missing_features:
            out.print(f"declared features missing from the file: "
                      f"{escape(', '.join(s.missing_features))}")
    if s.importance_problem:
        err.print(f"[yellow]importance not computed:[/yellow] {escape(s.importance_problem)}")


@snapshot_group.command("correlate")
@click.argument("path", metavar="FILE", type=click.Path())
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.95, show_default=True)
@click.option("--method", type=click.Choice(["pearson", "spearman", "both"]), default="both",
              show_default=True)
@FORMAT
@ENGINE
@handle_errors
def snapshot_correlate(path: str, threshold: float, method: str, fmt: str,
                       engine: str | None) -> None:
    """Pairs of numeric columns of any data file correlated at or above the threshold
    (no database needed; spark engine: Parquet files, folders or URIs)."""
    from registry.analysis.file_correlation import correlated_pairs_in_file

    try:
        if engine == "spark":
            from registry.engines import get_engine

            pairs = get_engine("spark").correlate(path, threshold, method)  # type: ignore[arg-type]
        else:
            pairs = correlated_pairs_in_file(Path(path), threshold, method)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput([Problem(str(exc))]) from exc
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in pairs]))
        return

    def shown(value: float | None) -> str:
        return "" if value is None else f"{value:.6f}"

    _table(["a", "b", "pearson", "spearman", "n"],
           [[p.a, p.b, shown(p.pearson), shown(p.spearman), f"{p.n:,}"] for p in pairs])
    out.print(f"{len(pairs)} pairs at |r| >= {threshold:g}")


@snapshot_group.command("list")
@FORMAT
@pass_app
@handle_errors
def snapshot_list(app: AppContext, fmt: str) -> None:
    """Registered snapshots, newest first."""
    with session_scope(app.sessions()) as session:
        rows = snapshots.list_snapshots(session)
    if fmt == "json":
        click.echo(json.dumps([{**asdict(s), "created_at": _iso(s.created_at)} for s in rows],
                              indent=2))
        return
    _table(["id", "name", "rows", "features", "unknown", "label", "consumer", "pairs", "added"],
           [[s.id, s.name, f"{s.rows:,}", len(s.features), len(s.unknown_columns), s.label,
             s.consumer, s.correlations, _iso(s.created_at)] for s in rows])


@snapshot_group.command("importance")
@click.argument("snapshot_id", metavar="ID", type=ROW_ID)
@click.option("--repeats", type=click.IntRange(min=1), default=DEFAULT_REPEATS,
              show_default=True)
@click.option("--method", type=click.Choice(["permutation", "leave-one-out"]),
              default="permutation", show_default=True)
@pass_app
@handle_errors
def snapshot_importance(app: AppContext, snapshot_id: int, repeats: int, method: str) -> None:
    """Compute importance again from a labelled snapshot and store it as a new report."""
    with session_scope(app.sessions()) as session:
        report = snapshots.compute_snapshot_importance(session, snapshot_id, repeats=repeats,
                                                       method=method, actor=app.actor)
    out.print(f"report {report.id}: {report.method} ({report.metric}) for "
              f"{escape(report.consumer)}, {len(report.values)} features, "
              f"{len(report.groups)} correlated groups")
