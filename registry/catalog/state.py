"""The stored catalog as plain values, loaded in a handful of queries.

Plans are computed by comparing a Spec against this state; nothing here holds ORM objects.
`load_state(session)` reads every object; `load_state(session, only={...})` reads just the
named objects (with every field, references by name), for reading or changing one object in
a large catalog.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session, aliased

from registry.store import models as m

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


class _Selection:
    """Which objects of each kind to read: all (`only` is None) or the named ones."""

    def __init__(self, only: Mapping[str, Collection[str]] | None) -> None:
        self.only = only

    def names(self, kind: str, column: Any) -> ColumnElement[bool]:
        if self.only is None:
            return true()
        return column.in_(sorted(self.only.get(kind, ())))  # type: ignore[no-any-return]

    def ids(self, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
        """Rows that belong to the objects read (all rows when every object is read)."""
        return true() if self.only is None else column.in_(sorted(ids))


def load_state(session: Session, only: Mapping[str, Collection[str]] | None = None
               ) -> CatalogState:
    """The stored catalog (every object, or the objects named in `only` by kind)."""
    pick = _Selection(only)
    state = CatalogState()
    team_names = dict(session.execute(select(m.Team.id, m.Team.name)).tuples().all())
    for name, contact, description in session.execute(
        select(m.Team.name, m.Team.contact, m.Team.description)
        .where(pick.names("teams", m.Team.name))
    ):
        state.teams[name] = {"contact": contact, "description": description or ""}

    producer = aliased(m.Consumer)
    source_names: dict[int, str] = {}
    for (sid, name, kind, owner_id, description, produced_by, freshness,
         readiness, openlineage) in session.execute(
        select(m.Source.id, m.Source.name, m.Source.kind, m.Source.owner_id,
               m.Source.description, producer.name, m.Source.freshness, m.Source.readiness,
               m.Source.openlineage)
        .outerjoin(producer, producer.id == m.Source.produced_by_id)
        .where(pick.names("sources", m.Source.name))
    ):
        source_names[sid] = name
        state.sources[name] = {
            "kind": kind, "owner": team_names[owner_id], "description": description or "",
            "produced_by": produced_by, "freshness": freshness, "readiness": readiness,
            "openlineage": openlineage or None,
        }

    replacement = aliased(m.Feature)
    feature_rows = session.execute(
        select(m.Feature.id, m.Feature.name, m.Feature.owner_id, m.Feature.dtype,
               m.Feature.description, m.Feature.bundle, m.Feature.status, m.Feature.sunset,
               replacement.name, m.Feature.deprecation_reason, m.Feature.cost,
               m.Feature.created, m.Feature.expect)
        .outerjoin(replacement, replacement.id == m.Feature.replacement_id)
        .where(pick.names("features", m.Feature.name))
    ).all()
    feature_ids = [row[0] for row in feature_rows]
    f_sources: dict[int, list[str]] = defaultdict(list)
    for fid, source in session.execute(
        select(m.FeatureSource.feature_id, m.Source.name)
        .join(m.Source, m.Source.id == m.FeatureSource.source_id)
        .where(pick.ids(m.FeatureSource.feature_id, feature_ids))
    ):
        f_sources[fid].append(source)
    upstream = aliased(m.Feature)
    f_deps: dict[int, list[str]] = defaultdict(list)
    for fid, dependency in session.execute(
        select(m.FeatureDependency.feature_id, upstream.name)
        .join(upstream, upstream.id == m.FeatureDependency.depends_on_id)
        .where(pick.ids(m.FeatureDependency.feature_id, feature_ids))
    ):
        f_deps[fid].append(dependency)
    f_tags: dict[int, list[str]] = defaultdict(list)
    for fid, tag in session.execute(select(m.FeatureTag.feature_id, m.FeatureTag.tag)
                                    .where(pick.ids(m.FeatureTag.feature_id, feature_ids))):
        f_tags[fid].append(tag)
    for (fid, name, owner_id, dtype, description, bundle, status, sunset, replaced_by, reason,
         cost, created, expect) in feature_rows:
        state.features[name] = {
            "owner": team_names[owner_id], "dtype": dtype, "description": description or "",
            "sources": sorted(f_sources[fid]), "depends_on": sorted(f_deps[fid]),
            "bundle": bundle, "tags": sorted(f_tags[fid]), "created": _iso(created),
            "status": status, "sunset": _iso(sunset), "replacement": replaced_by,
            "reason": reason, "cost": cost, "expect": expect or None,
        }

    consumer_rows = session.execute(
        select(m.Consumer.id, m.Consumer.name, m.Consumer.kind, m.Consumer.owner_id,
               m.Consumer.description, m.Consumer.version, m.Consumer.stage)
        .where(pick.names("consumers", m.Consumer.name))
    ).all()
    consumer_ids = [row[0] for row in consumer_rows]
    c_features: dict[int, list[str]] = defaultdict(list)
    for cid, feature in session.execute(
        select(m.ConsumerFeature.consumer_id, m.Feature.name)
        .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)
        .where(pick.ids(m.ConsumerFeature.consumer_id, consumer_ids))
    ):
        c_features[cid].append(feature)
    produces: dict[int | None, list[str]] = defaultdict(list)
    for producer_id, source in session.execute(
        select(m.Source.produced_by_id, m.Source.name)
        .where(m.Source.produced_by_id.is_not(None))
        .where(pick.ids(m.Source.produced_by_id, consumer_ids))
    ):
        produces[producer_id].append(source)
    for cid, name, kind, owner_id, description, version, stage in consumer_rows:
        state.consumers[name] = {
            "kind": kind, "owner": team_names[owner_id], "description": description or "",
            "version": version, "features": sorted(c_features[cid]),
            "produces": sorted(produces[cid]), "stage": stage or "development",
        }
    state.ids = {
        "teams": {v: k for k, v in team_names.items()},
        "sources": {v: k for k, v in source_names.items()},
        "features": {row[1]: row[0] for row in feature_rows},
        "consumers": {row[1]: row[0] for row in consumer_rows},
    }
    return state
