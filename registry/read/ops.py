"""Read side of weekly reports and scheduler job runs.

Their tables (`weekly_reports`, `job_runs`) arrive with the scheduler and report work; until a
database has them, these services answer "not available" instead of failing. The rows are read
by reflection, so whatever columns the tables have are shown: small values in listings, every
value in the detail of one report.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, select
from sqlalchemy.orm import Session

from registry.read.common import Pagination, clamp_int, table_exists

REPORTS_TABLE = "weekly_reports"
JOBS_TABLE = "job_runs"
TIME_COLUMNS = ("week_start", "week", "generated_at", "scheduled_for", "claimed_at",
                "created_at", "started_at", "finished_at", "ts")
BODY_COLUMNS = ("html", "markdown", "json", "body", "content", "data", "payload")
TEXT_LIMIT = 300


def _reflect(session: Session, name: str) -> Table | None:
    if not table_exists(session, name):
        return None
    return Table(name, MetaData(), autoload_with=session.connection())


def _time_column(table: Table) -> Column[Any] | None:
    for name in TIME_COLUMNS:
        if name in table.c:
            return table.c[name]
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _row_dict(row: Any, *, with_bodies: bool) -> dict[str, Any]:
    """A row as plain values; in listings, documents are left out and long texts shortened."""
    out: dict[str, Any] = {}
    for name, value in row._mapping.items():
        if not with_bodies and name in BODY_COLUMNS:
            continue
        value = _plain(value)
        if not with_bodies and isinstance(value, str) and len(value) > TEXT_LIMIT:
            value = value[: TEXT_LIMIT - 1] + "…"
        out[name] = value
    return out


def _ordered(table: Table) -> list[Any]:
    time_col = _time_column(table)
    order: list[Any] = [time_col.desc()] if time_col is not None else []
    order += [table.c[c] for c in ("scope", "team") if c in table.c]  # "org" before "team"
    if "id" in table.c:
        order.append(table.c["id"].desc())
    return order


def latest_report(session: Session) -> dict[str, Any] | None:
    """The newest weekly report's summary, or None (no table or no report yet)."""
    table = _reflect(session, REPORTS_TABLE)
    if table is None:
        return None
    row = session.execute(select(table).order_by(*_ordered(table)).limit(1)).first()
    return _row_dict(row, with_bodies=False) if row is not None else None


def _listing(session: Session, name: str, args: dict[str, Any], filters: tuple[str, ...]
             ) -> dict[str, Any]:
    table = _reflect(session, name)
    page = clamp_int(args.get("page"), 1, 1, 1_000_000)
    per_page = clamp_int(args.get("per_page"), 50, 1, 500)
    if table is None:
        return {"available": False, "items": [], "columns": [], "filters": {},
                "pagination": Pagination(1, per_page, 0).to_dict()}
    where = []
    applied: dict[str, str] = {}
    for column in filters:
        value = args.get(column)
        if value and column in table.c:
            where.append(table.c[column] == str(value))
            applied[column] = str(value)
    total = session.scalar(select(func.count()).select_from(table).where(*where)) or 0
    pagination = Pagination(min(page, Pagination(1, per_page, total).pages), per_page, total)
    rows = session.execute(select(table).where(*where).order_by(*_ordered(table))
                           .offset(pagination.offset).limit(per_page))
    items = [_row_dict(r, with_bodies=False) for r in rows]
    columns = [c.name for c in table.c if any(c.name in item for item in items)]
    choices = {c: sorted(str(v) for v in session.scalars(select(table.c[c]).distinct())
                         if v not in (None, ""))
               for c in filters if c in table.c}
    return {"available": True, "items": items, "columns": columns, "filters": applied,
            "choices": choices, "pagination": pagination.to_dict()}


def reports_list(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    """Weekly reports, newest first (filter by `team` when the table has that column)."""
    return _listing(session, REPORTS_TABLE, args, ("team", "scope"))


def report_detail(session: Session, report_id: int) -> dict[str, Any] | None:
    """One report with every column; JSON text columns are parsed. None when absent."""
    table = _reflect(session, REPORTS_TABLE)
    if table is None or "id" not in table.c:
        return None
    row = session.execute(select(table).where(table.c["id"] == report_id)).first()
    if row is None:
        return None
    report = _row_dict(row, with_bodies=True)
    for key, value in list(report.items()):
        if key in ("json", "data", "payload") and isinstance(value, str):
            try:
                report[key] = json.loads(value)
            except ValueError:
                pass
    neighbours: dict[str, int | None] = {"previous": None, "next": None}
    time_col = _time_column(table)
    if time_col is not None and row._mapping[time_col.name] is not None:
        same_scope = [table.c[c] == row._mapping[c] for c in ("team", "scope") if c in table.c]
        current = row._mapping[time_col.name]
        neighbours["previous"] = session.scalar(
            select(table.c["id"]).where(time_col < current, *same_scope)
            .order_by(time_col.desc()).limit(1))
        neighbours["next"] = session.scalar(
            select(table.c["id"]).where(time_col > current, *same_scope)
            .order_by(time_col).limit(1))
    return {"report": report, **neighbours}


def jobs_list(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    """Scheduler job runs, newest first (filter by `job`/`name` and `status`)."""
    return _listing(session, JOBS_TABLE, args, ("job", "name", "status"))
