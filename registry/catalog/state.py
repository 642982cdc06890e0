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
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, select, true
from sqlalchemy.orm import Session

from registry.store import models as m

Fields = dict[str, Any]


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


# The tables, not the mapped classes: these queries read plain columns, and a query of mapped
# attributes would first configure every mapper of the schema (a twentieth of a small plan).
TEAM, SOURCE, FEATURE, CONSUMER = (_table(m.Team), _table(m.Source), _table(m.Feature),
                                   _table(m.Consumer))
FEATURE_SOURCE, FEATURE_DEPENDENCY = _table(m.FeatureSource), _table(m.FeatureDependency)
FEATURE_TAG, CONSUMER_FEATURE = _table(m.FeatureTag), _table(m.ConsumerFeature)


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
    team_names = dict(session.execute(select(TEAM.c.id, TEAM.c.name)).tuples().all())

    def owner(team_id: int) -> str:
        """A team's name; read again when an object's owner is newer than the teams read
        above (a concurrent apply created both meanwhile: each statement sees what is
        committed when it runs)."""
        if team_id not in team_names:
            team_names.update(session.execute(select(TEAM.c.id, TEAM.c.name)).tuples().all())
        return str(team_names[team_id])
    for name, contact, description in session.execute(
        select(TEAM.c.name, TEAM.c.contact, TEAM.c.description)
        .where(pick.names("teams", TEAM.c.name))
    ):
        state.teams[name] = {"contact": contact, "description": description or ""}

    producer = CONSUMER.alias()
    source_names: dict[int, str] = {}
    for (sid, name, kind, owner_id, description, produced_by, freshness,
         readiness, openlineage) in session.execute(
        select(SOURCE.c.id, SOURCE.c.name, SOURCE.c.kind, SOURCE.c.owner_id,
               SOURCE.c.description, producer.c.name, SOURCE.c.freshness, SOURCE.c.readiness,
               SOURCE.c.openlineage)
        .outerjoin(producer, producer.c.id == SOURCE.c.produced_by_id)
        .where(pick.names("sources", SOURCE.c.name))
    ):
        source_names[sid] = name
        state.sources[name] = {
            "kind": kind, "owner": owner(owner_id), "description": description or "",
            "produced_by": produced_by, "freshness": freshness, "readiness": readiness,
            "openlineage": openlineage or None,
        }

    replacement = FEATURE.alias()
    feature_rows = session.execute(
        select(FEATURE.c.id, FEATURE.c.name, FEATURE.c.owner_id, FEATURE.c.dtype,
               FEATURE.c.description, FEATURE.c.bundle, FEATURE.c.status, FEATURE.c.sunset,
               replacement.c.name, FEATURE.c.deprecation_reason, FEATURE.c.cost,
               FEATURE.c.created, FEATURE.c.expect)
        .outerjoin(replacement, replacement.c.id == FEATURE.c.replacement_id)
        .where(pick.names("features", FEATURE.c.name))
    ).all()
    feature_ids = [row[0] for row in feature_rows]
    f_sources: dict[int, list[str]] = defaultdict(list)
    for fid, source in session.execute(
        select(FEATURE_SOURCE.c.feature_id, SOURCE.c.name)
        .join(SOURCE, SOURCE.c.id == FEATURE_SOURCE.c.source_id)
        .where(pick.ids(FEATURE_SOURCE.c.feature_id, feature_ids))
    ):
        f_sources[fid].append(source)
    upstream = FEATURE.alias()
    f_deps: dict[int, list[str]] = defaultdict(list)
    for fid, dependency in session.execute(
        select(FEATURE_DEPENDENCY.c.feature_id, upstream.c.name)
        .join(upstream, upstream.c.id == FEATURE_DEPENDENCY.c.depends_on_id)
        .where(pick.ids(FEATURE_DEPENDENCY.c.feature_id, feature_ids))
    ):
        f_deps[fid].append(dependency)
    f_tags: dict[int, list[str]] = defaultdict(list)
    for fid, tag in session.execute(select(FEATURE_TAG.c.feature_id, FEATURE_TAG.c.tag)
                                    .where(pick.ids(FEATURE_TAG.c.feature_id, feature_ids))):
        f_tags[fid].append(tag)
    for (fid, name, owner_id, dtype, description, bundle, status, sunset, replaced_by, reason,
         cost, created, expect) in feature_rows:
        state.features[name] = {
            "owner": owner(owner_id), "dtype": dtype, "description": description or "",
            "sources": sorted(f_sources[fid]), "depends_on": sorted(f_deps[fid]),
            "bundle": bundle, "tags": sorted(f_tags[fid]), "created": _iso(created),
            "status": status, "sunset": _iso(sunset), "replacement": replaced_by,
            "reason": reason, "cost": cost, "expect": expect or None,
        }

    consumer_rows = session.execute(
        select(CONSUMER.c.id, CONSUMER.c.name, CONSUMER.c.kind, CONSUMER.c.owner_id,
               CONSUMER.c.description, CONSUMER.c.version, CONSUMER.c.stage)
        .where(pick.names("consumers", CONSUMER.c.name))
    ).all()
    consumer_ids = [row[0] for row in consumer_rows]
    c_features: dict[int, list[str]] = defaultdict(list)
    for cid, feature in session.execute(
        select(CONSUMER_FEATURE.c.consumer_id, FEATURE.c.name)
        .join(FEATURE, FEATURE.c.id == CONSUMER_FEATURE.c.feature_id)
        .where(pick.ids(CONSUMER_FEATURE.c.consumer_id, consumer_ids))
    ):
        c_features[cid].append(feature)
    produces: dict[int | None, list[str]] = defaultdict(list)
    for producer_id, source in session.execute(
        select(SOURCE.c.produced_by_id, SOURCE.c.name)
        .where(SOURCE.c.produced_by_id.is_not(None))
        .where(pick.ids(SOURCE.c.produced_by_id, consumer_ids))
    ):
        produces[producer_id].append(source)
    for cid, name, kind, owner_id, description, version, stage in consumer_rows:
        state.consumers[name] = {
            "kind": kind, "owner": owner(owner_id), "description": description or "",
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
