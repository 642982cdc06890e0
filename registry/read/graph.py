"""Graphs to draw: the neighbourhood of one object, a team's part of the catalog, or all of it.

A graph is a plain value (`GraphData`): nodes ("type:name" ids with owner, status and the kinds
of their active findings) and edges in the direction data flows, each with a kind:
``source`` (source → feature), ``depends`` (feature → derived feature), ``declared`` (feature →
consumer), ``produces`` (consumer → source) and ``undeclared`` (feature → a principal that reads
it without declaring it). Edges on a feedback loop are flagged ``loop``. Nodes and edges are
sorted, so the same catalog always gives the same graph (and the same rendered SVG).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from sqlalchemy import String, and_, cast, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from registry.analysis.graph import feedback_cycles
from registry.catalog import lineage
from registry.core.batches import chunks
from registry.core.errors import NotFound
from registry.read.common import ACTIVE_STATUSES, run
from registry.store import models as m

NodeId = str  # "feature:name" | "source:name" | "consumer:name"
DIRECTIONS = ("both", "upstream", "downstream")
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
EDGE_TABLES: list[tuple[str, str, str, Any, Any]] = [
    ("source", "feature", "source", m.FeatureSource.source_id, m.FeatureSource.feature_id),
    ("feature", "feature", "depends", m.FeatureDependency.depends_on_id,
     m.FeatureDependency.feature_id),
    ("feature", "consumer", "declared", m.ConsumerFeature.feature_id,
     m.ConsumerFeature.consumer_id),
    ("consumer", "source", "produces", m.Source.produced_by_id, m.Source.id),
]


@dataclass
class GraphData:
    nodes: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    edges: dict[tuple[NodeId, NodeId], dict[str, Any]] = field(default_factory=dict)
    focus: NodeId | None = None
    truncated: bool = False
    available: int = 0
    """How many nodes the selection had before the node limit."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "focus": self.focus, "truncated": self.truncated, "available": self.available,
            "nodes": [self.nodes[n] for n in sorted(self.nodes)],
            "edges": [{"from": u, "to": v, **self.edges[(u, v)]} for u, v in sorted(self.edges)],
        }


NodeKey = tuple[str, int]  # ("feature" | "source" | "consumer", id)
BATCH = 900


def _split(node: NodeId) -> tuple[str, str]:
    kind, _, name = node.partition(":")
    return kind, name


def _by_type(keys: Iterable[NodeKey]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for kind, id_ in keys:
        grouped.setdefault(kind, []).append(id_)
    return {kind: sorted(ids) for kind, ids in grouped.items()}


def _batches(keys: Iterable[NodeKey], size: int = BATCH) -> Iterator[dict[str, list[int]]]:
    """The keys grouped by type, in batches of at most `size` keys (bound parameters)."""
    ordered = sorted(keys)
    for i in range(0, len(ordered), size):
        yield _by_type(ordered[i:i + size])


def _union(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _step(session: Session, down: set[NodeKey], up: set[NodeKey]
          ) -> list[tuple[bool, NodeKey]]:
    """One BFS level in one query per batch: (downstream?, node) for every neighbour of the
    `down` frontier along edges, and of the `up` frontier against them."""
    found: list[tuple[bool, NodeKey]] = []
    tagged = [(k, True) for k in down] + [(k, False) for k in up]
    for i in range(0, len(tagged), BATCH):
        part = tagged[i:i + BATCH]
        downs = _by_type(k for k, d in part if d)
        ups = _by_type(k for k, d in part if not d)
        queries = []
        for from_t, to_t, _kind, from_col, to_col in EDGE_TABLES:
            if downs.get(from_t):
                queries.append(select(literal(True).label("down"), literal(to_t).label("t"),
                                      to_col.label("id"))
                               .where(from_col.in_(downs[from_t]), to_col.is_not(None)))
            if ups.get(to_t):
                queries.append(select(literal(False).label("down"), literal(from_t).label("t"),
                                      from_col.label("id"))
                               .where(to_col.in_(ups[to_t]), from_col.is_not(None)))
        if queries:
            found.extend((bool(d), (t, i)) for d, t, i in run(session, _union(queries)))
    return found


def _reach(session: Session, start: NodeKey, *, depth: int, direction: str, cap: int
           ) -> dict[NodeKey, int]:
    """Nodes within `depth` hops upstream and/or downstream, with their distance. Stops after
    the level that reaches `cap` nodes (farther nodes could not be shown)."""
    seen: dict[NodeKey, int] = {start: 0}
    down = {start} if direction in ("both", "downstream") else set()
    up = {start} if direction in ("both", "upstream") else set()
    for level in range(1, depth + 1):
        if not down and not up:
            break
        next_down: set[NodeKey] = set()
        next_up: set[NodeKey] = set()
        for is_down, key in _step(session, down, up):
            if key not in seen:
                seen[key] = level
                (next_down if is_down else next_up).add(key)
            elif seen[key] == level:
                (next_down if is_down else next_up).add(key)
        down, up = next_down, next_up
        if len(seen) >= cap:
            break
    return seen


def _info(session: Session, keys: Iterable[NodeKey]) -> dict[NodeKey, tuple[str, str, str | None]]:
    """(name, owner, status) of catalog nodes; status only for features."""
    info: dict[NodeKey, tuple[str, str, str | None]] = {}
    for batch in _batches(keys):
        queries = []
        for kind, model in lineage.MODELS.items():
            if batch.get(kind):
                status = model.status if kind == "feature" else cast(null(), String)
                queries.append(select(literal(kind).label("t"), model.id, model.name,
                                      m.Team.name.label("owner"), status.label("status"))
                               .join(m.Team, m.Team.id == model.owner_id)
                               .where(model.id.in_(batch[kind])))
        for kind, id_, name, owner, status in run(session, _union(queries)):
            info[(kind, id_)] = (name, owner, status)
    return info


def _edges_among(session: Session, keys: Iterable[NodeKey]
                 ) -> list[tuple[str, NodeKey, NodeKey]]:
    """(kind, from, to) of every catalog edge with both ends among the keys."""
    wanted = set(keys)
    grouped = _by_type(wanted)
    edges: list[tuple[str, NodeKey, NodeKey]] = []
    for batch in _batches(wanted):
        queries = [select(literal(kind).label("kind"), from_col, to_col)
                   .where(from_col.in_(batch[from_t]), to_col.is_not(None))
                   for from_t, to_t, kind, from_col, to_col in EDGE_TABLES
                   if batch.get(from_t) and grouped.get(to_t)]
        if not queries:
            continue
        kinds = {kind: (from_t, to_t) for from_t, to_t, kind, _f, _t in EDGE_TABLES}
        for kind, a, b in run(session, _union(queries)):
            from_t, to_t = kinds[kind]
            if (to_t, b) in wanted:
                edges.append((kind, (from_t, a), (to_t, b)))
    return edges


def _undeclared_readers(session: Session, features: list[str]
                        ) -> list[tuple[str, str, str | None]]:
    """(feature, principal, owner team if a registered consumer) observed in usage but not
    declared, for the given features."""
    declared = (select(m.ConsumerFeature.consumer_id)
                .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)
                .where(m.ConsumerFeature.consumer_id == m.Consumer.id,
                       m.Feature.name == m.UsageDaily.feature))
    found: set[tuple[str, str, str | None]] = set()
    for part in chunks(sorted(features)):
        found.update((f, p, o) for f, p, o in run(session,
            select(m.UsageDaily.feature, m.UsageDaily.principal, m.Team.name).distinct()
            .outerjoin(m.Consumer, m.Consumer.name == m.UsageDaily.principal)
            .outerjoin(m.Team, m.Team.id == m.Consumer.owner_id)
            .where(m.UsageDaily.feature.in_(part), ~declared.exists())))
    return sorted(found, key=lambda row: (row[0], row[1]))


def _annotate_findings(session: Session, graph: GraphData) -> None:
    by_type: dict[str, list[str]] = {}
    for node in graph.nodes.values():
        by_type.setdefault(node["type"], []).append(node["name"])
    pairs = [(kind, name) for kind, names in sorted(by_type.items()) for name in sorted(names)]
    for i in range(0, len(pairs), BATCH):
        grouped: dict[str, list[str]] = {}
        for kind, name in pairs[i:i + BATCH]:
            grouped.setdefault(kind, []).append(name)
        for subject_type, subject, fkind, severity in run(session,
            select(m.Finding.subject_type, m.Finding.subject_name, m.Finding.kind,
                   m.Finding.severity).where(
                or_(*(and_(m.Finding.subject_type == kind, m.Finding.subject_name.in_(names))
                      for kind, names in grouped.items())),
                m.Finding.status.in_(ACTIVE_STATUSES))
        ):
            node = graph.nodes[f"{subject_type}:{subject}"]
            node["findings"] = sorted({*node["findings"], fkind})
            held = node["severity"]
            if held is None or SEVERITY_RANK.get(severity, 3) < SEVERITY_RANK.get(held, 3):
                node["severity"] = severity


def _new_node(node: NodeId) -> dict[str, Any]:
    kind, name = _split(node)
    return {"id": node, "type": kind, "name": name, "owner": None, "status": None,
            "registered": False, "findings": [], "severity": None, "loop": False}


def _mark_loops(graph: GraphData) -> None:
    flow = nx.DiGraph()
    for node in sorted(graph.nodes):
        flow.add_node(node, type=_split(node)[0], name=_split(node)[1])
    flow.add_edges_from(sorted(e for e, data in graph.edges.items()
                               if data["kind"] != "undeclared"))
    for cycle in feedback_cycles(flow, limit=1000):
        for u, v in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            graph.edges[(u, v)]["loop"] = True
            graph.nodes[u]["loop"] = True


def _build(session: Session, selected: list[NodeKey],
           info: dict[NodeKey, tuple[str, str, str | None]], *, available: int, limit: int,
           focus: NodeId | None, undeclared: bool, only_reader: str | None = None
           ) -> GraphData:
    """The graph of the selected nodes (in priority order), cut at `limit` nodes, with the
    undeclared reads of its features (all readers, or `only_reader`)."""
    graph = GraphData(focus=focus, available=available, truncated=available > limit)
    kept = selected[:limit]
    ids: dict[NodeKey, NodeId] = {}
    for key in kept:
        name, owner, status = info[key]
        node_id = f"{key[0]}:{name}"
        ids[key] = node_id
        graph.nodes[node_id] = {**_new_node(node_id), "owner": owner, "status": status,
                                "registered": True}
    for kind, a, b in _edges_among(session, kept):
        graph.edges[(ids[a], ids[b])] = {"kind": kind, "loop": False}
    if undeclared:
        features = [n["name"] for n in graph.nodes.values() if n["type"] == "feature"]
        readers = [row for row in _undeclared_readers(session, features)
                   if only_reader is None or row[1] == only_reader]
        for feature, principal, reader_owner in readers:
            node, reader = f"consumer:{principal}", f"feature:{feature}"
            if node not in graph.nodes:
                if len(graph.nodes) >= limit:
                    graph.truncated = True
                    continue
                graph.nodes[node] = _new_node(node)
                if reader_owner is not None:
                    graph.nodes[node].update(owner=reader_owner, registered=True)
            graph.edges[(reader, node)] = {"kind": "undeclared", "loop": False}
    _annotate_findings(session, graph)
    _mark_loops(graph)
    return graph


def neighbourhood(session: Session, name: str, *, node_type: str | None = None,
                  depth: int = 2, direction: str = "both", limit: int = 300,
                  undeclared: bool = True) -> GraphData:
    """The object's upstream and/or downstream graph within `depth` hops, nearest first."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    types = [node_type] if node_type else list(lineage.MODELS)
    start = lineage.resolve_node(session, name, types)
    reached = _reach(session, start, depth=depth, direction=direction, cap=limit)
    only_reader = None
    if direction == "upstream":  # undeclared reads by the object itself, when a consumer
        only_reader = name
        if start[0] == "consumer":
            for key in _undeclared_inputs(session, name):
                reached.setdefault(key, 1)
    info = _info(session, reached)
    selected = sorted(reached, key=lambda k: (k != start, reached[k], k[0], info[k][0]))
    return _build(session, selected, info, available=len(selected), limit=limit,
                  focus=f"{start[0]}:{name}", undeclared=undeclared, only_reader=only_reader)


def _undeclared_inputs(session: Session, principal: str) -> list[NodeKey]:
    """Catalog features a principal was observed reading without declaring them."""
    read = select(m.UsageDaily.feature).where(m.UsageDaily.principal == principal).distinct()
    declared = (select(m.ConsumerFeature.feature_id)
                .join(m.Consumer, m.Consumer.id == m.ConsumerFeature.consumer_id)
                .where(m.Consumer.name == principal))
    return [("feature", i) for i in session.scalars(
        select(m.Feature.id).where(m.Feature.name.in_(read), m.Feature.id.not_in(declared)))]


def catalog_flow(session: Session) -> nx.DiGraph:
    """The whole catalog's declared edges as a networkx graph of (type, id) nodes."""
    flow = nx.DiGraph()
    for kind, model in lineage.MODELS.items():
        flow.add_nodes_from((kind, i) for i in session.scalars(select(model.id)
                                                              .order_by(model.id)))
    for from_t, to_t, _kind, from_col, to_col in EDGE_TABLES:
        flow.add_edges_from(sorted(
            ((from_t, a), (to_t, b)) for a, b in run(session,
                select(from_col, to_col).where(to_col.is_not(None), from_col.is_not(None)))))
    return flow


def _bfs_order(flow: nx.DiGraph, seeds: list[NodeKey], depth: int | None) -> list[NodeKey]:
    undirected = flow.to_undirected(as_view=True)
    seen: dict[NodeKey, int] = {s: 0 for s in seeds}
    queue = deque(seeds)
    while queue:
        node = queue.popleft()
        if depth is not None and seen[node] >= depth:
            continue
        for neighbour in sorted(undirected.neighbors(node)):
            if neighbour not in seen:
                seen[neighbour] = seen[node] + 1
                queue.append(neighbour)
    return list(seen)


def catalog_graph(session: Session, *, team: str | None = None, depth: int = 1,
                  limit: int = 200, undeclared: bool = True,
                  flow: nx.DiGraph | None = None) -> GraphData:
    """The catalog, or one team's objects and their neighbours within `depth` hops.

    With a node limit, the nodes kept are the most connected part: for a team, its own objects
    first, then their neighbours by distance; for the whole catalog, the largest connected
    groups first, each walked breadth-first from its best-connected node. `flow` is
    `catalog_flow(session)`, when the caller keeps one (it only changes with the catalog).
    """
    flow = catalog_flow(session) if flow is None else flow
    if team is not None:
        if session.scalar(select(m.Team.id).where(m.Team.name == team)) is None:
            raise NotFound(f"no team named {team!r}")
        seeds: list[NodeKey] = []
        for kind, model in lineage.MODELS.items():
            seeds += [(kind, i) for i in session.scalars(
                select(model.id).join(m.Team, m.Team.id == model.owner_id)
                .where(m.Team.name == team))]
        order = _bfs_order(flow, sorted(seeds, key=lambda n: (-flow.degree(n), n)), depth)
    else:
        order = flow.graph.get("whole_catalog_order")  # kept with a reused flow
        if order is None:
            order = []
            components = sorted(nx.weakly_connected_components(flow),
                                key=lambda c: (-len(c), min(c)))
            for component in components:
                start = min(component, key=lambda n: (-flow.degree(n), n))
                order += _bfs_order(flow.subgraph(component), [start], None)
            flow.graph["whole_catalog_order"] = order
    info = _info(session, order[:limit])
    return _build(session, order, info, available=len(order), limit=limit, focus=None,
                  undeclared=undeclared)


def lineage_listing(session: Session, name: str, *, direction: str = "both",
                    depth: int | None = None) -> dict[str, Any]:
    """Upstream and/or downstream objects of a name, each with its distance and parent."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    start = lineage.resolve_node(session, name)
    out: dict[str, Any] = {"name": name, "type": start[0], "direction": direction,
                           "depth": depth}
    for side, downstream in (("upstream", False), ("downstream", True)):
        if direction in ("both", side):
            nodes = lineage.traverse(session, start, downstream=downstream, depth=depth)
            out[side] = [n.to_dict() for n in nodes]
    return out


def impact_listing(session: Session, source: str) -> dict[str, Any]:
    nodes = lineage.impact(session, source)
    return {"source": source, "nodes": [n.to_dict() for n in nodes],
            "counts": {t: sum(1 for n in nodes if n.type == t)
                       for t in ("feature", "consumer", "source")}}


def closure_listing(session: Session, consumer: str) -> dict[str, Any]:
    nodes = lineage.closure(session, consumer)
    return {"consumer": consumer, "nodes": [n.to_dict() for n in nodes],
            "counts": {t: sum(1 for n in nodes if n.type == t)
                       for t in ("feature", "source", "consumer")}}
