"""Stored weekly reports: one row per (week, team) and one per week for the org."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from registry.core.errors import NotFound
from registry.reports.week import ReportWeek
from registry.store import models as m

__all__ = ["get_report", "list_reports", "report_summary", "reports_query", "save_report"]


def save_report(
    session: Session, *, week: ReportWeek, team: str | None, content: dict[str, Any],
    markdown: str, html: str, generated_at: datetime, period_start: datetime,
) -> m.WeeklyReport:
    """Insert or replace the report of ``team`` (None: the org) for ``week``."""
    scope, name = ("org", "") if team is None else ("team", team)
    row = session.scalars(select(m.WeeklyReport).where(
        m.WeeklyReport.week_start == week.start, m.WeeklyReport.scope == scope,
        m.WeeklyReport.team == name)).one_or_none()
    if row is None:
        row = m.WeeklyReport(week_start=week.start, scope=scope, team=name)
        session.add(row)
    analysis = content.get("analysis") or {}
    row.generated_at, row.period_start, row.timezone = generated_at, period_start, week.timezone
    row.analysis_run_id = analysis.get("run_id")
    row.content, row.markdown, row.html = content, markdown, html
    session.flush()
    return row


def reports_query(*, team: str | None = None, scope: str | None = None
                  ) -> Select[m.WeeklyReport]:
    """Stored reports, newest week first, the org report before the teams'."""
    query = select(m.WeeklyReport).order_by(
        m.WeeklyReport.week_start.desc(), case((m.WeeklyReport.scope == "org", 0), else_=1),
        m.WeeklyReport.team)
    if team is not None:
        query = query.where(m.WeeklyReport.team == team, m.WeeklyReport.scope == "team")
    if scope is not None:
        query = query.where(m.WeeklyReport.scope == scope)
    return query


def list_reports(session: Session, *, team: str | None = None, scope: str | None = None,
                 limit: int = 100) -> list[m.WeeklyReport]:
    """Stored reports, newest week first, the org report before the teams'."""
    return list(session.scalars(reports_query(team=team, scope=scope).limit(limit)))


def get_report(session: Session, report_id: int) -> m.WeeklyReport:
    row = session.get(m.WeeklyReport, report_id)
    if row is None:
        raise NotFound(f"no stored report with id {report_id}: see `featreg reports`")
    return row


def report_summary(row: m.WeeklyReport) -> dict[str, Any]:
    """A listing row: which report, and its headline numbers."""
    content = row.content or {}
    totals = content.get("totals", {})
    if row.scope == "org":
        candidates = sum(len(t.get("candidates", [])) for t in content.get("teams", []))
    else:
        candidates = len(content.get("candidates", []))
    return {"id": row.id, "week": content.get("week"), "week_start": row.week_start.isoformat(),
            "scope": row.scope, "team": row.team or None,
            "generated_at": row.generated_at.isoformat(), "timezone": row.timezone,
            "open": totals.get("open"), "debt_score": totals.get("debt_score"),
            "candidates": candidates}
