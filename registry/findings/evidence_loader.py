"""The bridge between stored evidence and the pure analysis: refresh it, then load it as
AnalysisInput parts (reads, importance, group importance, correlations)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.analysis.inputs import (
    CorrelatedPair,
    FeatureSnapshot,
    GroupImportanceValue,
    ImportanceValue,
    ReadStat,
)
from registry.core.batches import chunks
from registry.core.errors import FeatregError
from registry.core.settings import Settings
from registry.core.timeparse import as_utc
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


HISTORY_DEPTH = 2
"""Snapshots per feature the analysis compares: the latest and the one before."""


def _strength(pearson: float | None, spearman: float | None) -> float | None:
    values = [abs(v) for v in (pearson, spearman) if v is not None and math.isfinite(v)]
    return max(values) if values else None


def load_snapshot_history(session: Session, *, now: datetime
                          ) -> dict[str, list[FeatureSnapshot]]:
    """Per feature, its latest two snapshots taken at or before ``now`` (newest first), with
    their profiles and the correlations stored or tracked there. Only the rows those need are
    read: a catalog of 2,000 features and 50 snapshots reads about 4,000 profiles."""
    snapshots = []
    for sid, name, features, taken_at, created_at in session.execute(
            select(m.Snapshot.id, m.Snapshot.name, m.Snapshot.features, m.Snapshot.taken_at,
                   m.Snapshot.created_at)):
        moment = as_utc(taken_at or created_at)
        if moment <= now:
            snapshots.append((moment, sid, name, features))
    snapshots.sort(reverse=True)
    wanted: dict[int, set[str]] = {}
    chosen: dict[str, list[int]] = {}
    for _moment, sid, _name, features in snapshots:
        for feature in features:
            held = chosen.setdefault(feature, [])
            if len(held) < HISTORY_DEPTH:
                held.append(sid)
                wanted.setdefault(sid, set()).add(feature)
    if not wanted:
        return {}
    about = {sid: (moment, name) for moment, sid, name, _f in snapshots}
    profiles: dict[tuple[int, str], dict[str, Any]] = {}
    partners: dict[tuple[int, str], dict[str, float | None]] = {}
    S, C = m.SnapshotFeatureStats, m.SnapshotCorrelation
    for chunk in chunks(sorted(wanted)):
        for sid, feature, profile in session.execute(
                select(S.snapshot_id, S.feature, S.profile).where(S.snapshot_id.in_(chunk))):
            if feature in wanted[sid] and profile:
                profiles[(sid, feature)] = profile
                for other, r in (profile.get("tracked") or {}).items():
                    partners.setdefault((sid, feature), {})[other] = _strength(
                        r.get("pearson"), r.get("spearman"))
        for sid, a, b, pearson, spearman in session.execute(
                select(C.snapshot_id, C.a, C.b, C.pearson, C.spearman)
                .where(C.snapshot_id.in_(chunk))):
            strength = _strength(pearson, spearman)
            for one, other in ((a, b), (b, a)):
                if one in wanted[sid]:
                    partners.setdefault((sid, one), {})[other] = strength
    history: dict[str, list[FeatureSnapshot]] = {}
    for feature, sids in chosen.items():
        rows = [FeatureSnapshot(snapshot=sid, taken_at=about[sid][0], name=about[sid][1],
                                profile=profiles[(sid, feature)],
                                partners=partners.get((sid, feature), {}))
                for sid in sids if (sid, feature) in profiles]
        if rows:
            history[feature] = rows
    return history


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
