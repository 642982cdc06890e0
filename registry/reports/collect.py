"""Load what a weekly report needs from the database into plain values (`ReportInput`).

Everything after this module is pure: `registry.reports.build` turns a `ReportInput` into the
report's JSON content, and the renderers turn that content into Markdown and HTML.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.analysis.graph import build_catalog_graph
from registry.catalog.state import CatalogState, load_state
from registry.findings.input_loader import load_catalog
from registry.findings.records import finding_to_dict
from registry.reports.week import ReportWeek
from registry.store import models as m

__all__ = ["TREND_WEEKS", "USAGE_DAYS", "FindingHistory", "ReportInput", "load_report_input"]

TREND_WEEKS = 8
USAGE_DAYS = 56


@dataclass(frozen=True)
class FindingHistory:
    """The few fields of a finding (any status) that open counts in past weeks need."""

    kind: str
    owner: str | None
    first_seen: datetime
    resolved_at: datetime | None
    status: str

    def open_at(self, moment: datetime) -> bool:
        """Open at the end of a period that ends just before `moment` (a week ends where the
        next begins: a finding first seen at that instant belongs to the next week)."""
        if self.first_seen >= moment:
            return False
        if self.status == "resolved":
            return self.resolved_at is not None and self.resolved_at > moment
        return True


@dataclass
class ReportInput:
    """Everything one weekly report reads, as plain values."""

    now: datetime
    week: ReportWeek
    since: datetime
    state: CatalogState
    graph: nx.DiGraph
    findings: list[dict[str, Any]]
    """Unresolved findings, and those resolved since ``since`` (finding_to_dict shape)."""
    history: list[FindingHistory]
    lifecycle_events: list[dict[str, Any]]
    """Audit events since ``since`` that changed a feature's status."""
    daily_reads: dict[str, list[tuple[str, int]]]
    """Deprecated and retired features: (ISO day, reads) over the USAGE_DAYS UTC days up to
    ``now``."""
    stored_totals: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    """(team or "" for the org, week start ISO) -> open findings per kind, from stored reports."""
    analysis: dict[str, Any] | None = None

    def team_of(self, node_type: str, name: str) -> str | None:
        """The owning team of a feature, source or consumer (None when not registered)."""
        fields = self.state.of(f"{node_type}s").get(name) if node_type in (
            "feature", "source", "consumer") else None
        return fields["owner"] if fields else None

    def contact_of(self, team: str | None) -> str | None:
        return self.state.teams.get(team or "", {}).get("contact")


def _previous_report_time(session: Session, week: ReportWeek) -> datetime | None:
    return session.scalar(select(func.max(m.WeeklyReport.generated_at))
                          .where(m.WeeklyReport.week_start < week.start))


def _lifecycle_events(session: Session, since: datetime, until: datetime
                      ) -> list[dict[str, Any]]:
    events = session.scalars(
        select(m.AuditEvent)
        .where(m.AuditEvent.object_type == "feature", m.AuditEvent.action == "update",
               m.AuditEvent.ts > since, m.AuditEvent.ts <= until)
        .order_by(m.AuditEvent.ts, m.AuditEvent.id))
    return [{"ts": e.ts.isoformat(), "actor": e.actor, "feature": e.object_name,
             "before": e.before or {}, "after": e.after or {}}
            for e in events if "status" in (e.after or {})]


def _daily_reads(session: Session, features: list[str], now: datetime
                 ) -> dict[str, list[tuple[str, int]]]:
    if not features:
        return {}
    first_day = now.date() - timedelta(days=USAGE_DAYS - 1)
    rows = session.execute(
        select(m.UsageDaily.feature, m.UsageDaily.day, func.sum(m.UsageDaily.reads))
        .where(m.UsageDaily.feature.in_(features), m.UsageDaily.day >= first_day)
        .group_by(m.UsageDaily.feature, m.UsageDaily.day)
        .order_by(m.UsageDaily.feature, m.UsageDaily.day))
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for feature, day, reads in rows:
        found[feature].append((day.isoformat(), int(reads)))
    return dict(found)


def _stored_totals(session: Session, week: ReportWeek) -> dict[tuple[str, str], dict[str, int]]:
    oldest = week.previous(TREND_WEEKS - 1).start
    rows = session.execute(
        select(m.WeeklyReport.team, m.WeeklyReport.week_start, m.WeeklyReport.content)
        .where(m.WeeklyReport.week_start >= oldest, m.WeeklyReport.week_start < week.start))
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for team, week_start, content in rows:
        by_kind = (content or {}).get("totals", {}).get("open_by_kind")
        if isinstance(by_kind, dict):
            totals[(team, week_start.isoformat())] = {str(k): int(v) for k, v in by_kind.items()}
    return totals


def _latest_analysis(session: Session, until: datetime) -> dict[str, Any] | None:
    run = session.scalars(
        select(m.AnalysisRun).where(m.AnalysisRun.finished_at.is_not(None),
                                    m.AnalysisRun.analysis_time <= until)
        .order_by(m.AnalysisRun.analysis_time.desc(), m.AnalysisRun.id.desc()).limit(1)).first()
    if run is None:
        return None
    return {"run_id": run.id, "analysis_time": run.analysis_time.isoformat()}


def load_report_input(session: Session, *, now: datetime, week: ReportWeek) -> ReportInput:
    """Read the catalog, findings, audit events, usage and earlier reports for one report."""
    since = _previous_report_time(session, week) or now - timedelta(days=7)
    state = load_state(session)
    features, sources, consumers, _ = load_catalog(session, state)
    graph = build_catalog_graph(features, sources, consumers)
    stored = list(session.scalars(select(m.Finding).order_by(m.Finding.id)))
    findings = [finding_to_dict(f) for f in stored
                if f.status != "resolved" or (f.resolved_at is not None and f.resolved_at > since)]
    history = [FindingHistory(f.kind, f.owner, f.first_seen, f.resolved_at, f.status)
               for f in stored]
    retiring = sorted(name for name, f in state.features.items()
                      if f["status"] in ("deprecated", "retired"))
    return ReportInput(
        now=now, week=week, since=since, state=state, graph=graph, findings=findings,
        history=history, lifecycle_events=_lifecycle_events(session, since, now),
        daily_reads=_daily_reads(session, retiring, now),
        stored_totals=_stored_totals(session, week), analysis=_latest_analysis(session, now),
    )
