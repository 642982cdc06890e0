"""Build the read-only AnalysisInput from the database, in a handful of queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.analysis.inputs import (
    AnalysisInput,
    ConsumerInfo,
    FeatureInfo,
    SourceInfo,
)
from registry.catalog.state import CatalogState, load_state
from registry.core.settings import Settings
from registry.evidence.freshness import latest_updates
from registry.evidence.openlineage_read import observed_outputs
from registry.findings.evidence_loader import load_evidence, load_snapshot_history
from registry.store import models as m


def load_catalog(session: Session, state: CatalogState, *, now: datetime | None = None
                 ) -> tuple[
    list[FeatureInfo], list[SourceInfo], list[ConsumerInfo], dict[int, int]
]:
    changesets = dict(session.execute(select(m.Feature.name, m.Feature.changeset_id)).all())
    features = [
        FeatureInfo(
            name=name, owner=f["owner"], status=f["status"],
            created=datetime.fromisoformat(f["created"]), description=f["description"],
            sources=tuple(f["sources"]), depends_on=tuple(f["depends_on"]), bundle=f["bundle"],
            changeset=changesets.get(name),
            sunset=datetime.fromisoformat(f["sunset"]).date() if f["sunset"] else None,
            replacement=f["replacement"], expect=f.get("expect"),
        )
        for name, f in state.features.items()
    ]
    registered = dict(session.execute(select(m.Source.name, m.Source.registered_at)).all())
    updated = latest_updates(session, now) if now is not None else {}
    sources = [SourceInfo(name=n, kind=s["kind"], owner=s["owner"], produced_by=s["produced_by"],
                          freshness=s.get("freshness"), readiness=s.get("readiness"),
                          registered=registered.get(n), last_update=updated.get(n))
               for n, s in state.sources.items()]
    written = observed_outputs(session)  # observed outputs count as declared `produces` do
    consumers = [ConsumerInfo(name=n, kind=c["kind"], owner=c["owner"],
                              features=tuple(c["features"]),
                              produces=tuple(sorted({*c["produces"], *written.get(n, ())})),
                              stage=c.get("stage") or "development")
                 for n, c in state.consumers.items()]
    sizes = dict(session.execute(select(m.ChangeSet.id, m.ChangeSet.features_added)).all())
    return features, sources, consumers, {int(k): int(v) for k, v in sizes.items()}


def load_analysis_input(session: Session, *, now: datetime, settings: Settings
                        ) -> AnalysisInput:
    state = load_state(session)
    features, sources, consumers, sizes = load_catalog(session, state, now=now)
    evidence = load_evidence(session, now=now, settings=settings)
    return AnalysisInput.build(
        now=now, settings=settings, features=features, sources=sources, consumers=consumers,
        reads=evidence.reads, importance=evidence.importance,
        group_importance=evidence.group_importance, correlations=evidence.correlations,
        changeset_sizes=sizes, snapshot_history=load_snapshot_history(session, now=now),
    )
