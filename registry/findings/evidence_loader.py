"""The bridge between stored evidence and the pure analysis: refresh it, then load it as
AnalysisInput parts (reads, importance, group importance, correlations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.analysis.inputs import (
    CorrelatedPair,
    GroupImportanceValue,
    ImportanceValue,
    ReadStat,
)
from registry.core.errors import FeatregError
from registry.core.settings import Settings
from registry.evidence.importance import effective_reports
from registry.evidence.rollups import principal_reads
from registry.evidence.snapshots import compute_snapshot_importance, latest_correlations
from registry.store import models as m


@dataclass(frozen=True)
class Evidence:
    reads: tuple[ReadStat, ...]
    importance: tuple[ImportanceValue, ...]
    group_importance: tuple[GroupImportanceValue, ...]
    correlations: tuple[CorrelatedPair, ...]


def pending_snapshots(session: Session) -> list[m.Snapshot]:
    """Labelled snapshots of a consumer whose importance has not been computed yet."""
    computed = select(m.ImportanceReport.snapshot_id).where(
        m.ImportanceReport.snapshot_id.is_not(None))
    return list(session.scalars(
        select(m.Snapshot).where(m.Snapshot.label.is_not(None), m.Snapshot.consumer.is_not(None),
                                 m.Snapshot.id.not_in(computed)).order_by(m.Snapshot.id)))


def refresh_evidence(session: Session, *, now: datetime, settings: Settings) -> dict[str, Any]:
    """Compute importance for new labelled snapshots. Usage rollups are maintained at ingest
    (daily counts are upserted as lines are read), so they need no batch step here."""
    computed: list[int] = []
    failed: dict[str, str] = {}
    for snapshot in pending_snapshots(session):
        # No savepoint: it raises before it writes, and on SQLite the release of a savepoint
        # that opened the transaction would commit the caller's unit of work.
        try:
            compute_snapshot_importance(session, snapshot.id, now=now, actor="analysis")
            computed.append(snapshot.id)
        except FeatregError as exc:
            failed[str(snapshot.id)] = str(exc)
    return {"snapshots_computed": computed, "snapshots_failed": failed}


def load_evidence(session: Session, *, now: datetime, settings: Settings) -> Evidence:
    reads = tuple(
        ReadStat(principal=r.principal, feature=r.feature, count=r.reads, last_read=r.last_read)
        for r in principal_reads(session, now, window_days=settings.usage_window_days)
    )
    importance: list[ImportanceValue] = []
    groups: list[GroupImportanceValue] = []
    for consumer, report in effective_reports(session).items():
        if report.source == "reported" and report.reported_at > now:
            continue  # reported after the analysis time; computed ones describe a snapshot
        for feature, entry in report.values.items():
            importance.append(ImportanceValue(
                consumer=consumer, feature=feature, value=entry.value, std=entry.std,
                repeats=entry.repeats, method=report.method, reported_at=report.reported_at))
        for group in report.groups:
            groups.append(GroupImportanceValue(
                consumer=consumer, members=group.members, value=group.value, std=group.std,
                repeats=group.repeats, method=report.method))
    correlations = tuple(CorrelatedPair(p.a, p.b, p.pearson, p.spearman, p.n)
                         for p in latest_correlations(session))
    return Evidence(reads, tuple(importance), tuple(groups), correlations)
