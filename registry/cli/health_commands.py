"""Data-health commands: `source refreshed` (an update no OpenLineage producer reports) and
`openlineage ingest` (events as the openlineage-python file transport writes them)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from registry.cli import AppContext, handle_errors, main, out, pass_app
from registry.cli.lazy import deferred
from registry.core import timeparse
from registry.core.errors import InvalidInput, Problem

if TYPE_CHECKING:
    from registry.evidence.freshness import report_refresh
    from registry.evidence.openlineage import ingest_lineage_events
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    report_refresh = deferred("registry.evidence.freshness:report_refresh")
    ingest_lineage_events = deferred("registry.evidence.openlineage:ingest_lineage_events")


def aware_time(value: str | None, option: str, *, now: datetime) -> datetime | None:
    """An option's ISO 8601 time that must carry a timezone and not lie in the future
    (InvalidInput, exit status 1, naming the option)."""
    if value is None:
        return None
    try:
        moment = timeparse.parse_time(value)
    except timeparse.InvalidTime as exc:
        raise InvalidInput([Problem(f"{option}: {exc}")]) from None
    if moment > now:
        raise InvalidInput([Problem(f"{option}: {value} is later than now "
                                    f"({now.isoformat(timespec='seconds')})")])
    return moment


@main.group("source")
def source_group() -> None:
    """Evidence about sources."""


@source_group.command("refreshed")
@click.argument("source", metavar="SOURCE")
@click.option("--at", "at", help="When it was updated (ISO 8601 with a timezone; default now).")
@pass_app
@handle_errors
def source_refreshed(app: AppContext, source: str, at: str | None) -> None:
    """Report an update of SOURCE that no OpenLineage producer reports."""
    now = datetime.now(UTC)
    moment = aware_time(at, "--at", now=now)
    with session_scope(app.sessions()) as session:
        result = report_refresh(session, source, at=moment, actor=app.actor, now=now)
    note = "" if result["recorded"] else " (already recorded)"
    out.print(f"{escape(source)} updated at {result['at']}{note}")


def read_events(text: str, where: str) -> list[Any]:
    """One JSON object a line (blank lines skipped); every bad line is a problem."""
    events: list[Any] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"not JSON: {exc.msg}", file=where, line=number))
    if problems:
        raise InvalidInput(problems)
    return events


@main.group("openlineage")
def openlineage_group() -> None:
    """OpenLineage events."""


@openlineage_group.command("ingest")
@click.argument("path", metavar="FILE|-")
@pass_app
@handle_errors
def openlineage_ingest(app: AppContext, path: str) -> None:
    """Ingest OpenLineage events, one JSON object a line, from FILE or stdin (-): the rules of
    POST /api/v1/lineage/batch (all or nothing). The CLI acts as an admin."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput([Problem(f"cannot read: {exc}", file=path)]) from None
    events = read_events(text, "<stdin>" if path == "-" else path)
    with session_scope(app.sessions()) as session:
        summary = ingest_lineage_events(session, events)
    out.print(f"{summary.events:,} run events taken ({summary.duplicates:,} already received, "
              f"{summary.ignored:,} not run events), {summary.reads:,} reads")
