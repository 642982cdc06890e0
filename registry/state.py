"""The stored catalog as plain values, loaded in a handful of queries.

Plans are computed by comparing a Spec against this state; nothing here holds ORM objects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import models as m

Fields = dict[str, Any]


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class CatalogState:
    """Normalised fields of every stored object, by kind and name, plus name→id maps."""

    teams: dict[str, Fields] = field(default_factory=dict)
    sources: dict[str, Fields] = field(default_factory=dict)
    features: dict[str, Fields] = field(default_factory=dict)
    consumers: dict[str, Fields] = field(default_factory=dict)
    ids: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, Fields]:
        return getattr(self, kind)  # type: ignore[no-any-return]


def load_state(session: Session) -> CatalogState:
    state = CatalogState()
    team_names: dict[int, str] = {}
    for tid, name, contact, description in session.execute(
        select(m.Team.id, m.Team.name, m.Team.contact, m.Team.description)
    ):
        team_names[tid] = name
        state.teams[name] = {"contact": contact, "description": description or ""}

    consumer_rows = session.execute(
        select(m.Consumer.id, m.Consumer.name, m.Consumer.kind, m.Consumer.owner_id,
               m.Consumer.description, m.Consumer.version)
    ).all()
    consumer_names = {row[0]: row[1] for row in consumer_rows}

    source_names: dict[int, str] = {}
    produces: dict[str, list[str]] = defaultdict(list)
    for sid, name, kind, owner_id, description, producer_id, freshness in session.execute(
        select(m.Source.id, m.Source.name, m.Source.kind, m.Source.owner_id,
               m.Source.description, m.Source.produced_by_id, m.Source.freshness)
    ):
        source_names[sid] = name
        producer = consumer_names.get(producer_id) if producer_id else None
        if producer:
            produces[producer].append(name)
        state.sources[name] = {
            "kind": kind, "owner": team_names[owner_id], "description": description or "",
            "produced_by": producer, "freshness": freshness,
        }

    feature_rows = session.execute(
        select(m.Feature.id, m.Feature.name, m.Feature.owner_id, m.Feature.dtype,
               m.Feature.description, m.Feature.bundle, m.Feature.status, m.Feature.sunset,
               m.Feature.replacement_id, m.Feature.deprecation_reason, m.Feature.cost,
               m.Feature.created)
    ).all()
    feature_names = {row[0]: row[1] for row in feature_rows}
    f_sources: dict[int, list[str]] = defaultdict(list)
    for fid, sid in session.execute(select(m.FeatureSource.feature_id, m.FeatureSource.source_id)):
        f_sources[fid].append(source_names[sid])
    f_deps: dict[int, list[str]] = defaultdict(list)
    for fid, did in session.execute(
        select(m.FeatureDependency.feature_id, m.FeatureDependency.depends_on_id)
    ):
        f_deps[fid].append(feature_names[did])
    f_tags: dict[int, list[str]] = defaultdict(list)
    for fid, tag in session.execute(select(m.FeatureTag.feature_id, m.FeatureTag.tag)):
        f_tags[fid].append(tag)
    for (fid, name, owner_id, dtype, description, bundle, status, sunset, repl_id, reason,
         cost, created) in feature_rows:
        state.features[name] = {
            "owner": team_names[owner_id], "dtype": dtype, "description": description or "",
            "sources": sorted(f_sources[fid]), "depends_on": sorted(f_deps[fid]),
            "bundle": bundle, "tags": sorted(f_tags[fid]), "created": _iso(created),
            "status": status, "sunset": _iso(sunset),
            "replacement": feature_names.get(repl_id) if repl_id else None,
            "reason": reason, "cost": cost,
        }

    c_features: dict[int, list[str]] = defaultdict(list)
    for cid, fid in session.execute(
        select(m.ConsumerFeature.consumer_id, m.ConsumerFeature.feature_id)
    ):
        c_features[cid].append(feature_names[fid])
    for cid, name, kind, owner_id, description, version in consumer_rows:
        state.consumers[name] = {
            "kind": kind, "owner": team_names[owner_id], "description": description or "",
            "version": version, "features": sorted(c_features[cid]),
            "produces": sorted(produces.get(name, [])),
        }
    state.ids = {
        "teams": {v: k for k, v in team_names.items()},
        "sources": {v: k for k, v in source_names.items()},
        "features": {v: k for k, v in feature_names.items()},
        "consumers": {v: k for k, v in consumer_names.items()},
    }
    return state
