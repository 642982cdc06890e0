"""Data-health commands: `source refreshed` (an update no OpenLineage producer reports).
`openlineage ingest` and `openlineage suggest` are in `openlineage_commands`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from registry.cli import AppContext, handle_errors, main, out, pass_app
from registry.cli.lazy import deferred
from registry.core import timeparse
from registry.core.errors import InvalidInput, Problem

if TYPE_CHECKING:
    from registry.evidence.freshness import report_refresh
    from registry.store.db import session_scope
else:
    session_scope = deferred("registry.store.db:session_scope")
    report_refresh = deferred("registry.evidence.freshness:report_refresh")


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
