"""OpenLineage commands: `openlineage ingest` (events as the openlineage-python file transport
writes them) and `openlineage suggest` (spec YAML for what the events saw but the catalog does
not hold)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from registry.cli import AppContext, handle_errors, main, out, pass_app
from registry.cli.lazy import deferred
from registry.core.errors import InvalidInput, Problem

if TYPE_CHECKING:
    from registry.evidence import openlineage_suggest
    from registry.evidence.openlineage import ingest_lineage_events
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    ingest_lineage_events = deferred("registry.evidence.openlineage:ingest_lineage_events")
    openlineage_suggest = deferred("registry.evidence.openlineage_suggest")


def read_events(text: str, where: str) -> list[Any]:
    """One JSON event a line (blank lines skipped); every line that is not JSON is named."""
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
    for warning in summary.warnings:
        out.print(f"warning: {escape(warning)}")
    out.print(f"{summary.events:,} events taken ({summary.duplicates:,} already received), "
              f"{summary.reads:,} reads")


@openlineage_group.command("suggest")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
@pass_app
@handle_errors
def openlineage_suggest_command(app: AppContext, fmt: str) -> None:
    """Propose spec YAML for every dataset and job OpenLineage saw but the catalog does not
    hold: sources (owner from the ownership facet, description from the documentation facet,
    an openlineage alias), features from their schema fields, consumers for the jobs. Review
    it, then `featreg apply` it."""
    with session_scope(app.sessions()) as session:
        spec = openlineage_suggest.suggest_spec(session)
    if fmt == "json":
        click.echo(json.dumps(spec, indent=2, ensure_ascii=False))
    else:
        click.echo(openlineage_suggest.suggestion_yaml(spec), nl=False)
