"""The stored catalog as plain values, loaded in a handful of queries.

Plans are computed by comparing a Spec against this state; nothing here holds ORM objects.
`load_state(session)` reads every object; `load_state(session, only={...})` reads just the
named objects (with every field, references by name), for reading or changing one object in
a large catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    Text,
    TypeDecorator,
    case,
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from registry.store import catalog_models as m

Fields = dict[str, Any]


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


# The tables, not the mapped classes: these queries read plain columns, and a query of mapped
# attributes would first configure every mapper of the schema (a twentieth of a small plan).
TEAM, SOURCE, FEATURE, CONSUMER = (_table(m.Team), _table(m.Source), _table(m.Feature),
                                   _table(m.Consumer))
FEATURE_SOURCE, FEATURE_DEPENDENCY = _table(m.FeatureSource), _table(m.FeatureDependency)
FEATURE_TAG, CONSUMER_FEATURE = _table(m.FeatureTag), _table(m.ConsumerFeature)
CREATED_TYPE = cast(TypeDecorator[datetime], FEATURE.c.created.type)
PRODUCER, REPLACEMENT, UPSTREAM = CONSUMER.alias(), FEATURE.alias(), FEATURE.alias()


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class _IsoCache(dict[Any, str | None]):
    """`_iso` of each distinct value read (after `convert`, if given), computed once: most
    features of a catalog share a few `created` times (one per apply) and have no `sunset`."""

    def __init__(self, convert: Callable[[Any], date | datetime | None] | None = None) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, value: Any) -> str | None:
        self[value] = text = _iso(self.convert(value) if self.convert else value)
        return text


def _json(column: Any) -> ColumnElement[Any]:
    """A JSON column, with the JSON text `null` (what None is stored as) read as SQL NULL:
    the same value, without decoding the JSON of every row that has none."""
    return case((sql_cast(column, Text) == "null", null()), else_=column)


def _by_key(rows: Iterable[Sequence[Any]]) -> dict[Any, list[str]]:
    """(key, name) rows as each key's names, sorted."""
    names: dict[Any, list[str]] = {}
    for key, name in rows:
        if key in names:
            names[key].append(name)
        else:
            names[key] = [name]
    for values in names.values():
        values.sort()
    return names


class _TeamNames(dict[int, str]):
    """Team names by id, read again for an id not read yet: an object's owner can be newer
    than the teams read first (a concurrent apply created both meanwhile: each statement
    sees what is committed when it runs)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.read()

    def read(self) -> None:
        self.update(self.session.execute(select(TEAM.c.id, TEAM.c.name)).tuples().all())

    def __missing__(self, team_id: int) -> str:
        self.read()
        if team_id not in self:
            raise KeyError(team_id)
        return self[team_id]


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
    team_names = _TeamNames(session)
    for name, contact, description in session.execute(
        select(TEAM.c.name, TEAM.c.contact, TEAM.c.description)
        .where(pick.names("teams", TEAM.c.name))
    ):
        state.teams[name] = {"contact": contact, "description": description or ""}

    source_names: dict[int, str] = {}
    for (sid, name, kind, owner_id, description, produced_by, freshness,
         readiness, openlineage) in session.execute(
        select(SOURCE.c.id, SOURCE.c.name, SOURCE.c.kind, SOURCE.c.owner_id,
               SOURCE.c.description, PRODUCER.c.name, SOURCE.c.freshness, SOURCE.c.readiness,
               _json(SOURCE.c.openlineage))
        .outerjoin(PRODUCER, PRODUCER.c.id == SOURCE.c.produced_by_id)
        .where(pick.names("sources", SOURCE.c.name))
    ):
        source_names[sid] = name
        state.sources[name] = {
            "kind": kind, "owner": team_names[owner_id], "description": description or "",
            "produced_by": produced_by, "freshness": freshness, "readiness": readiness,
            "openlineage": openlineage or None,
        }

    feature_rows = session.execute(
        select(FEATURE.c.id, FEATURE.c.name, FEATURE.c.owner_id, FEATURE.c.dtype,
               FEATURE.c.description, FEATURE.c.bundle, FEATURE.c.status, FEATURE.c.sunset,
               REPLACEMENT.c.name, FEATURE.c.deprecation_reason, FEATURE.c.cost,
               # as stored: UTCDateTime's conversion is done once per distinct value below
               type_coerce(FEATURE.c.created, CREATED_TYPE.impl), _json(FEATURE.c.expect))
        .outerjoin(REPLACEMENT, REPLACEMENT.c.id == FEATURE.c.replacement_id)
        .where(pick.names("features", FEATURE.c.name))
    ).all()
    feature_ids = [row[0] for row in feature_rows]
    f_sources = _by_key(session.execute(
        select(FEATURE_SOURCE.c.feature_id, SOURCE.c.name)
        .join(SOURCE, SOURCE.c.id == FEATURE_SOURCE.c.source_id)
        .where(pick.ids(FEATURE_SOURCE.c.feature_id, feature_ids))
    ).all())
    f_deps = _by_key(session.execute(
        select(FEATURE_DEPENDENCY.c.feature_id, UPSTREAM.c.name)
        .join(UPSTREAM, UPSTREAM.c.id == FEATURE_DEPENDENCY.c.depends_on_id)
        .where(pick.ids(FEATURE_DEPENDENCY.c.feature_id, feature_ids))
    ).all())
    f_tags = _by_key(session.execute(
        select(FEATURE_TAG.c.feature_id, FEATURE_TAG.c.tag)
        .where(pick.ids(FEATURE_TAG.c.feature_id, feature_ids))
    ).all())
    dialect = session.get_bind().dialect
    iso_created = _IsoCache(lambda value: CREATED_TYPE.process_result_value(value, dialect))
    iso_sunset = _IsoCache()
    for (fid, name, owner_id, dtype, description, bundle, status, sunset, replaced_by, reason,
         cost, created, expect) in feature_rows:
        # each feature gets lists of its own (a missing key: a new empty list)
        state.features[name] = {
            "owner": team_names[owner_id], "dtype": dtype, "description": description or "",
            "sources": f_sources.get(fid) or [], "depends_on": f_deps.get(fid) or [],
            "bundle": bundle, "tags": f_tags.get(fid) or [], "created": iso_created[created],
            "status": status, "sunset": iso_sunset[sunset], "replacement": replaced_by,
            "reason": reason, "cost": cost, "expect": expect or None,
        }

    consumer_rows = session.execute(
        select(CONSUMER.c.id, CONSUMER.c.name, CONSUMER.c.kind, CONSUMER.c.owner_id,
               CONSUMER.c.description, CONSUMER.c.version, CONSUMER.c.stage)
        .where(pick.names("consumers", CONSUMER.c.name))
    ).all()
    consumer_ids = [row[0] for row in consumer_rows]
    c_features = _by_key(session.execute(
        select(CONSUMER_FEATURE.c.consumer_id, FEATURE.c.name)
        .join(FEATURE, FEATURE.c.id == CONSUMER_FEATURE.c.feature_id)
        .where(pick.ids(CONSUMER_FEATURE.c.consumer_id, consumer_ids))
    ).all())
    produces = _by_key(session.execute(
        select(SOURCE.c.produced_by_id, SOURCE.c.name)
        .where(SOURCE.c.produced_by_id.is_not(None))
        .where(pick.ids(SOURCE.c.produced_by_id, consumer_ids))
    ).all())
    for cid, name, kind, owner_id, description, version, stage in consumer_rows:
        state.consumers[name] = {
            "kind": kind, "owner": team_names[owner_id], "description": description or "",
            "version": version, "features": c_features.get(cid) or [],
            "produces": produces.get(cid) or [], "stage": stage or "development",
        }
    state.ids = {
        "teams": {v: k for k, v in team_names.items()},
        "sources": {v: k for k, v in source_names.items()},
        "features": {row[1]: row[0] for row in feature_rows},
        "consumers": {row[1]: row[0] for row in consumer_rows},
    }
    return state
