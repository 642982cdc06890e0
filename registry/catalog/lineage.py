"""Lineage over the database: the one edge list, read with one batched query per BFS level.

`EDGES` says which rows form which kind of edge (`registry.analysis.graph.EDGE_KINDS`, in the
direction data flows): feature_sources (source → feature), feature_dependencies (dependency →
derived feature), consumer_features (feature → consumer) and sources.produced_by_id (consumer →
the source it produces). Everything that reads edges from the database goes through it.

Lineage, impact, closure and the graph pages walk it with the one traversal,
`registry.analysis.graph.walk`, given `neighbours(session)`: each level is one indexed query
(per batch of the frontier), so the cost is proportional to what is reached, not to the size of
the catalog; cycles (feedback loops) stop.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import networkx as nx
from sqlalchemy import (
    String,
    cast,
    false,
    literal,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from registry.analysis.graph import EDGE_KINDS, Expand, Step, graph_neighbours, walk
from registry.core.batches import IN_LIST, chunks
from registry.core.errors import NotFound
from registry.core.names import name_problem
from registry.store import models as m

NodeKey = tuple[str, int]  # ("feature" | "source" | "consumer", id)
MODELS: dict[str, Any] = {"source": m.Source, "feature": m.Feature, "consumer": m.Consumer}


@dataclass(frozen=True)
class Edge:
    """One kind of edge, the types of its ends and the two columns that hold it."""

    kind: str
    from_type: str
    to_type: str
    from_col: Any
    to_col: Any

    @classmethod
    def of(cls, kind: str, from_col: Any, to_col: Any) -> Edge:
        return cls(kind, *EDGE_KINDS[kind], from_col, to_col)


EDGES: tuple[Edge, ...] = (
    Edge.of("source", m.FeatureSource.source_id, m.FeatureSource.feature_id),
    Edge.of("depends", m.FeatureDependency.depends_on_id, m.FeatureDependency.feature_id),
    Edge.of("declared", m.ConsumerFeature.feature_id, m.ConsumerFeature.consumer_id),
    Edge.of("produces", m.Source.produced_by_id, m.Source.id),
)
_PER_STEP = max(Counter([(e.from_type, True) for e in EDGES]
                        + [(e.to_type, False) for e in EDGES]).values())
STEP_BATCH = IN_LIST // _PER_STEP
"""Steps per query: a step's id is in one IN list per edge table on its side (a feature's in
two), and every query stays within IN_LIST bound values."""


class LineageNode(NamedTuple):
    """One object a lineage reached (a named tuple: a big lineage makes thousands)."""

    type: str
    name: str
    depth: int
    via: str | None  # the node it was reached from ("type:name"), None for the start

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "depth": self.depth, "via": self.via}


def resolve_node(session: Session, name: str, types: Iterable[str] = MODELS) -> NodeKey:
    types = list(types)
    if name_problem(name, "name") is not None:  # e.g. a NUL, which PostgreSQL cannot compare
        raise NotFound(f"no {' or '.join(types)} named {name!r}")
    held = cached_catalog(session)
    if held is not None:
        for type_ in types:
            found = held.ids.get((type_, name))
            if found is not None:
                return type_, found
        raise NotFound(f"no {' or '.join(types)} named {name!r}")
    for type_ in types:
        model = MODELS[type_]
        found = session.scalar(select(model.id).where(model.name == name))
        if found is not None:
            return type_, found
    raise NotFound(f"no {' or '.join(types)} named {name!r}")


def _union(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _adjacent(session: Session, steps: Sequence[Step[NodeKey]], edges: Sequence[Edge] = EDGES
              ) -> Iterator[tuple[Edge, NodeKey, NodeKey, bool]]:
    """(edge, from, to, downstream?) of the edges leaving each downstream step and entering
    each upstream one: one query (a union over the edge tables) per STEP_BATCH steps."""
    for part in chunks(steps, STEP_BATCH):
        ids: dict[tuple[str, bool], list[int]] = {}
        for (type_, id_), down in part:
            ids.setdefault((type_, down), []).append(id_)
        queries = []
        for index, edge in enumerate(edges):
            for down, near_type, near, far in ((True, edge.from_type, edge.from_col, edge.to_col),
                                               (False, edge.to_type, edge.to_col, edge.from_col)):
                if ids.get((near_type, down)):
                    queries.append(select(literal_column(str(index)).label("edge"),
                                          (true() if down else false()).label("down"),
                                          edge.from_col.label("a"), edge.to_col.label("b"))
                                   .where(near.in_(ids[(near_type, down)]), far.is_not(None)))
        if queries:
            for index, down, a, b in session.connection().execute(_union(queries)):
                edge = edges[index]
                yield edge, (edge.from_type, a), (edge.to_type, b), bool(down)


FLOW_CACHE = "featreg_flow_cache"
"""The key of a read-only session's `FlowCache` in ``session.info``."""
_SEEN = "featreg_flow_seen"
"""The key of the `HeldCatalog` a session has already checked against the catalog version."""

NodeInfo = tuple[str, str, str | None]
"""(name, owner team, status) of a catalog node; status only for features."""


@dataclass(frozen=True)
class HeldCatalog:
    """The catalog's nodes and edges as read at one catalog version."""

    flow: nx.DiGraph
    info: dict[NodeKey, NodeInfo]
    ids: dict[tuple[str, str], int]
    """(type, name) → id."""
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    """The OpenLineage datasets (namespace, name) that sources declare as theirs, in name
    order (the first source to declare one keeps it)."""

    @cached_property
    def owned(self) -> dict[str, list[NodeKey]]:
        """Each team's objects (computed once per catalog, when first asked)."""
        teams: dict[str, list[NodeKey]] = {}
        for key, (_name, owner, _status) in self.info.items():
            teams.setdefault(owner, []).append(key)
        return teams

    def named(self, type_: str, names: Iterable[str]) -> frozenset[str]:
        """Those of the names that objects of this type have."""
        return frozenset(name for name in names if (type_, name) in self.ids)

    def sources_of(self, feature: str) -> frozenset[str]:
        """The names of the sources a feature is built on."""
        feature_id = self.ids.get(("feature", feature))
        if feature_id is None:
            return frozenset()
        return frozenset(self.info[key][0] for key, data in
                         self.flow._pred[("feature", feature_id)].items()
                         if data["kind"] == "source")


LATEST_CHANGE = (select(m.ChangeSet.id, m.ChangeSet.created_at)
                 .order_by(m.ChangeSet.id.desc()).limit(1))
"""The catalog version: the newest change set (every catalog change is one)."""


@dataclass
class FlowCache:
    """The catalog's edges and nodes in memory (`HeldCatalog`) for the catalog version they
    were read at. A session checks the version once (its first use) and keeps that view to
    its end: a read-only request sees one catalog throughout.

    After a change set, the first request to notice starts reading the new catalog in a
    background thread; until it is there, requests get None and read the database instead
    (every caller has that path: the same answers, a few more queries). A write therefore
    never stalls reads: at 100,000 features reading the catalog takes seconds. Only the first
    catalog of a process, and callers that need the whole catalog anyway (``wait``), read it
    in the request (concurrent ones wait for that one read)."""

    current: tuple[tuple[Any, ...], HeldCatalog] | None = None
    """(version, catalog), replaced as one value: never a catalog with another's version."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    building: bool = False
    state: threading.Lock = field(default_factory=threading.Lock)

    def catalog(self, session: Session, *, wait: bool = False) -> HeldCatalog | None:
        seen = session.info.get(_SEEN)
        if isinstance(seen, HeldCatalog) or (seen is False and not wait):
            return seen or None
        version = _version(session)
        current = self.current
        if current is not None and current[0] == version:
            session.info[_SEEN] = current[1]
            return current[1]
        if current is None or wait:
            with self.lock:
                current = self.current
                if current is None or current[0] != version:
                    current = self.current = (version, read_catalog(session))
            session.info[_SEEN] = current[1]
            return current[1]
        self._read_in_background(session.get_bind())
        session.info[_SEEN] = False
        return None

    def _read_in_background(self, bind: Any) -> None:
        with self.state:
            if self.building:
                return
            self.building = True

        def read() -> None:
            try:
                with Session(bind) as own, self.lock:
                    version = _version(own)  # before the rows: they are at least this new
                    if self.current is None or self.current[0] != version:  # else a waiting
                        self.current = (version, read_catalog(own))  # request has read it
            except Exception:  # noqa: BLE001 - requests keep reading the database
                logging.getLogger(__name__).exception("reading the catalog into memory")
            finally:
                with self.state:
                    self.building = False

        threading.Thread(target=read, name="featreg-catalog", daemon=True).start()


def _version(session: Session) -> tuple[Any, ...]:
    latest = session.connection().execute(LATEST_CHANGE).first()
    return tuple(latest) if latest else ()


def cached_catalog(session: Session, *, wait: bool = False) -> HeldCatalog | None:
    """The catalog held for a read-only session that carries a `FlowCache`, when it is
    current (None: read the database; `wait`: read it into memory now if need be)."""
    cache = session.info.get(FLOW_CACHE)
    return cache.catalog(session, wait=wait) if isinstance(cache, FlowCache) else None


def cached_flow(session: Session, *, wait: bool = False) -> nx.DiGraph | None:
    """The catalog's edges held for a read-only session that carries a `FlowCache`."""
    held = cached_catalog(session, wait=wait)
    return held.flow if held is not None else None


def neighbours(session: Session) -> Expand[NodeKey]:
    """The database's edges as `walk`'s neighbour function."""
    flow = cached_flow(session)
    if flow is not None:
        return graph_neighbours(flow)

    def expand(frontier: Sequence[Step[NodeKey]]) -> dict[Step[NodeKey], list[NodeKey]]:
        around: dict[Step[NodeKey], list[NodeKey]] = {}
        for _edge, a, b, down in _adjacent(session, frontier):
            if down:
                around.setdefault((a, True), []).append(b)
            else:
                around.setdefault((b, False), []).append(a)
        return around
    return expand


def edges_among(session: Session, keys: Iterable[NodeKey]) -> list[tuple[str, NodeKey, NodeKey]]:
    """(kind, from, to) of every edge with both ends among the keys."""
    wanted = set(keys)
    flow = cached_flow(session)
    if flow is not None:
        return [(data["kind"], a, b) for a in sorted(wanted) if a in flow
                for b, data in flow.succ[a].items() if b in wanted]
    types = {type_ for type_, _ in wanted}
    edges = [edge for edge in EDGES if edge.to_type in types]
    return [(edge.kind, a, b)
            for edge, a, b, _down in _adjacent(session, [(k, True) for k in sorted(wanted)], edges)
            if b in wanted]


def catalog_flow(session: Session) -> nx.DiGraph:
    """The whole catalog's edges as a networkx graph of (type, id) nodes."""
    flow = nx.DiGraph()
    for kind, model in MODELS.items():
        flow.add_nodes_from((kind, i) for i in session.scalars(select(model.id)
                                                              .order_by(model.id)))
    _add_edges(session, flow)
    return flow


def _add_edges(session: Session, flow: nx.DiGraph) -> None:
    for edge in EDGES:
        flow.add_edges_from(sorted(
            ((edge.from_type, a), (edge.to_type, b)) for a, b in session.connection().execute(
                select(edge.from_col, edge.to_col)
                .where(edge.to_col.is_not(None), edge.from_col.is_not(None)))), kind=edge.kind)


def read_catalog(session: Session) -> HeldCatalog:
    """Every catalog node with its name, owner and status, and every edge (one query per
    node type and per edge table)."""
    flow = nx.DiGraph()
    info: dict[NodeKey, NodeInfo] = {}
    ids: dict[tuple[str, str], int] = {}
    none = cast(null(), String)
    aliases: dict[tuple[str, str], str] = {}
    for kind, model in MODELS.items():
        status = model.status if kind == "feature" else none
        rows = session.connection().execute(
            select(model.id, model.name, m.Team.name, status)
            .join(m.Team, m.Team.id == model.owner_id).order_by(model.id)).all()
        for id_, name, owner, state in rows:
            info[(kind, id_)] = (name, owner, state)
            ids[(kind, name)] = id_
        flow.add_nodes_from((kind, row[0]) for row in rows)
    for name, declared in session.connection().execute(
            select(m.Source.name, m.Source.openlineage)
            .where(m.Source.openlineage.is_not(None)).order_by(m.Source.name)):
        for alias in declared or ():
            aliases.setdefault((alias["namespace"], alias["name"]), name)
    _add_edges(session, flow)
    return HeldCatalog(flow, info, ids, aliases)


def _node_rows(session: Session, keys: Iterable[NodeKey], *, details: bool) -> Iterator[Any]:
    """(type, id, name, owner, status) of catalog nodes, one query per IN_LIST keys; owner and
    status only with `details` (status only for features)."""
    none = cast(null(), String)
    for part in chunks(sorted(set(keys))):
        by_type: dict[str, list[int]] = {}
        for type_, id_ in part:
            by_type.setdefault(type_, []).append(id_)
        queries = []
        for type_, ids in by_type.items():
            model = MODELS[type_]
            if details:
                status = model.status if type_ == "feature" else none
                query = (select(literal(type_).label("t"), model.id, model.name,
                                m.Team.name.label("owner"), status.label("status"))
                         .join(m.Team, m.Team.id == model.owner_id))
            else:
                query = select(literal(type_).label("t"), model.id, model.name,
                               none.label("owner"), none.label("status"))
            queries.append(query.where(model.id.in_(ids)))
        yield from session.connection().execute(_union(queries))


def describe(session: Session, keys: Iterable[NodeKey]
             ) -> dict[NodeKey, tuple[str, str, str | None]]:
    """(name, owner, status) of catalog nodes; status only for features."""
    keys = list(keys)
    held = cached_catalog(session)
    if held is not None:
        found = {key: held.info.get(key) for key in keys}
        if all(value is not None for value in found.values()):
            return found  # type: ignore[return-value]
    return {(type_, id_): (name, owner, status)
            for type_, id_, name, owner, status in _node_rows(session, keys, details=True)}


def names(session: Session, keys: Iterable[NodeKey]) -> dict[NodeKey, str]:
    """The names of catalog nodes."""
    keys = list(keys)
    held = cached_catalog(session)
    if held is not None:
        found = {key: held.info.get(key) for key in keys}
        if all(value is not None for value in found.values()):
            return {key: value[0] for key, value in found.items()}  # type: ignore[index]
    return {(type_, id_): name
            for type_, id_, name, _owner, _status in _node_rows(session, keys, details=False)}


def traverse(session: Session, start: NodeKey, *, downstream: bool, depth: int | None = None
             ) -> list[LineageNode]:
    """Every node reachable from start (excluded) with its shortest distance, sorted."""
    reach = walk([start], neighbours(session),
                 direction="downstream" if downstream else "upstream", depth=depth)
    named = names(session, reach.depth)
    del reach.depth[start]
    via = reach.via
    nodes = [LineageNode(key[0], named[key], hops, f"{via[key][0]}:{named[via[key]]}")
             for key, hops in reach.depth.items()]
    nodes.sort(key=lambda n: (n.depth, n.type, n.name))
    return nodes


def lineage(session: Session, name: str, *, downstream: bool, depth: int | None = None
            ) -> list[LineageNode]:
    return traverse(session, resolve_node(session, name), downstream=downstream, depth=depth)


def impact(session: Session, source: str) -> list[LineageNode]:
    """Every feature and consumer that depends on a source, transitively."""
    start = resolve_node(session, source, ["source"])
    return traverse(session, start, downstream=True)


def closure(session: Session, consumer: str) -> list[LineageNode]:
    """Every feature and source a consumer depends on, transitively (Sculley's question)."""
    start = resolve_node(session, consumer, ["consumer"])
    return traverse(session, start, downstream=False)
