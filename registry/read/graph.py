"""Graphs to draw: the neighbourhood of one object, a team's part of the catalog, or all of it.

A graph is a plain value (`GraphData`): nodes ("type:name" ids with owner, status and the kinds
of their active findings) and edges in the direction data flows, each with a kind:
``source`` (source → feature), ``depends`` (feature → derived feature), ``declared`` (feature →
consumer), ``produces`` (consumer → source) — the catalog's edges, read through
`registry.catalog.lineage` — and ``undeclared`` (feature → a principal that reads it without
declaring it: observed in usage, drawn but never followed). Edges on a feedback loop are
flagged ``loop``. Nodes and edges are sorted, so the same catalog always gives the same graph
(and the same rendered SVG). Which nodes a graph holds is decided by the one traversal,
`registry.analysis.graph.walk`: over the database for a neighbourhood, over the cached
catalog graph for a team or the whole catalog.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import networkx as nx
from sqlalchemy import String, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from registry.analysis.graph import (
    check_direction,
    parse_node,
    walk,
)
from registry.catalog import lineage
from registry.catalog.lineage import NodeKey, catalog_flow, describe, edges_among
from registry.core.batches import chunks
from registry.core.errors import NotFound
from registry.read.common import ACTIVE_STATUSES, run
from registry.read.graph_warnings import (
    CatalogWarnings,
    UndeclaredRead,
    catalog_warnings,
    loop_members,
    undeclared_readers,
)
from registry.store import models as m

__all__ = ["CatalogWarnings", "GraphData", "catalog_flow", "catalog_graph", "catalog_warnings",
           "closure_listing",
           "impact_listing", "lineage_listing", "neighbourhood"]

NodeId = str  # "feature:name" | "source:name" | "consumer:name"
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
HEALTH_KINDS = {"stale_source": "stale", "unstable_dependency": "unstable",
                "unready_dependency": "unready"}
"""Data-health finding kinds and the word a graph node's `health` uses for each."""


@dataclass
class GraphData:
    nodes: dict[NodeId, dict[str, Any]] = field(default_factory=dict)
    edges: dict[tuple[NodeId, NodeId], dict[str, Any]] = field(default_factory=dict)
    focus: NodeId | None = None
    truncated: bool = False
    available: int = 0
    """How many nodes the selection had before the node limit."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Nodes the limit left out, by type ("warned": of them, with a critical or warning
    finding)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "focus": self.focus, "truncated": self.truncated, "available": self.available,
            "left_out": dict(sorted(self.left_out.items())),
            "warnings": {"undeclared": sum(1 for e in self.edges.values()
                                           if e["kind"] == "undeclared"),
                         "loop_edges": sum(1 for e in self.edges.values() if e["loop"])},
            "nodes": [self.nodes[n] for n in sorted(self.nodes)],
            "edges": [{"from": u, "to": v, **self.edges[(u, v)]} for u, v in sorted(self.edges)],
        }


NODE_FINDINGS = select(
    m.Finding.subject_type, m.Finding.subject_name, m.Finding.kind, m.Finding.severity).where(
    or_(*(and_(m.Finding.subject_type == kind,
               m.Finding.subject_name.in_(bindparam(kind, type_=String, expanding=True)))
          for kind in lineage.MODELS)),
    m.Finding.status.in_(ACTIVE_STATUSES))
"""The active findings about the named nodes of each type (built once: a parameter per
type, an empty list matching nothing)."""
UNREADY_RELATED = select(m.Finding.related).where(m.Finding.kind == "unready_dependency",
                                                  m.Finding.status.in_(ACTIVE_STATUSES))


def _annotate_findings(session: Session, graph: GraphData) -> None:
    by_type: dict[str, list[str]] = {}
    for node in graph.nodes.values():
        by_type.setdefault(node["type"], []).append(node["name"])
    pairs = [(kind, name) for kind, names in sorted(by_type.items()) for name in sorted(names)]
    for part in chunks(pairs):
        grouped: dict[str, list[str]] = {kind: [] for kind in lineage.MODELS}
        for kind, name in part:
            if kind in grouped:
                grouped[kind].append(name)
        for subject_type, subject, fkind, severity in run(session, NODE_FINDINGS, grouped):
            node = graph.nodes[f"{subject_type}:{subject}"]
            node["findings"] = sorted({*node["findings"], fkind})
            held = node["severity"]
            if held is None or SEVERITY_RANK.get(severity, 3) < SEVERITY_RANK.get(held, 3):
                node["severity"] = severity
            if fkind in HEALTH_KINDS:
                node["health"] = sorted({*node["health"], HEALTH_KINDS[fkind]})
            if fkind == "feedback_loop":  # observed loops too, not only declared ones
                node["loop"] = True
    for (related,) in run(session, UNREADY_RELATED):
        for item in related or []:
            held_node = graph.nodes.get(f"{item.get('type')}:{item.get('name')}") \
                if isinstance(item, dict) else None
            if held_node is not None:
                held_node["health"] = sorted({*held_node["health"], "unready"})


def _new_node(node: NodeId) -> dict[str, Any]:
    kind, name = parse_node(node)
    return {"id": node, "type": kind, "name": name, "owner": None, "status": None,
            "registered": False, "findings": [], "severity": None, "loop": False,
            "health": []}


def _mark_loops(graph: GraphData) -> None:
    """Flag the edges and nodes on a cycle of the drawn catalog edges: those inside one
    strongly connected group (every cycle of the catalog closes through a consumer that
    produces a source, so each is a feedback loop; no cycle is enumerated)."""
    flow = nx.DiGraph()
    flow.add_nodes_from(sorted(graph.nodes))
    flow.add_edges_from(sorted(e for e, data in graph.edges.items()
                               if data["kind"] != "undeclared"))
    group: dict[NodeId, int] = {}
    for index, component in enumerate(nx.strongly_connected_components(flow)):
        if len(component) > 1:
            group.update(dict.fromkeys(component, index))
    for (u, v), data in graph.edges.items():
        if data["kind"] != "undeclared" and u in group and group[u] == group.get(v):
            data["loop"] = True
            graph.nodes[u]["loop"] = graph.nodes[v]["loop"] = True


def _build(session: Session, kept: list[NodeKey],
           info: dict[NodeKey, tuple[str, str, str | None]], *, available: int,
           focus: NodeId | None, reads: list[UndeclaredRead]) -> GraphData:
    """The graph of the kept nodes with the undeclared `reads` of its features (a read's
    principal is added whatever the node limit: a warning is never cut)."""
    graph = GraphData(focus=focus, available=available)
    ids: dict[NodeKey, NodeId] = {}
    for key in kept:
        name, owner, status = info[key]
        node_id = f"{key[0]}:{name}"
        ids[key] = node_id
        graph.nodes[node_id] = {**_new_node(node_id), "owner": owner, "status": status,
                                "registered": True}
    for kind, a, b in edges_among(session, kept):
        graph.edges[(ids[a], ids[b])] = {"kind": kind, "loop": False}
    for feature, principal, reader_owner in reads:
        node, reader = f"consumer:{principal}", f"feature:{feature}"
        if reader not in graph.nodes:
            continue
        if node not in graph.nodes:
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
    check_direction(direction)
    types = [node_type] if node_type else list(lineage.MODELS)
    start = lineage.resolve_node(session, name, types)
    reached = walk([start], lineage.neighbours(session), direction=direction, depth=depth,
                   cap=limit).depth
    only_reader = None
    if direction == "upstream":  # undeclared reads by the object itself, when a consumer
        only_reader = name
        if start[0] == "consumer":
            for key in _undeclared_inputs(session, name):
                reached.setdefault(key, 1)
    info = describe(session, reached)
    kept = sorted(reached, key=lambda k: (k != start, reached[k], k[0], info[k][0]))[:limit]
    reads: list[UndeclaredRead] = []
    if undeclared:
        features = [info[key][0] for key in kept if key[0] == "feature"]
        reads = [row for row in undeclared_readers(session, features)
                 if only_reader is None or row[1] == only_reader]
    graph = _build(session, kept, info, available=len(reached), focus=f"{start[0]}:{name}",
                   reads=reads)
    _record_cut(graph, reached, kept, [])
    return graph


def _record_cut(graph: GraphData, scope: Collection[NodeKey], kept: list[NodeKey],
                warned: list[NodeKey]) -> None:
    """Note on the graph how many nodes of each type the node limit left out, and of them how
    many have a critical or warning finding."""
    held = set(kept)
    counts = Counter(key[0] for key in scope)
    counts.subtract(key[0] for key in held if key in scope)
    counts = Counter({kind: n for kind, n in counts.items() if n > 0})
    graph.truncated = bool(counts)
    counts["warned"] = sum(1 for key in warned if key not in held)
    graph.left_out = dict(counts)


def _undeclared_inputs(session: Session, principal: str) -> list[NodeKey]:
    """Catalog features a principal was observed reading without declaring them."""
    read = select(m.UsageDaily.feature).where(m.UsageDaily.principal == principal).distinct()
    declared = (select(m.ConsumerFeature.feature_id)
                .join(m.Consumer, m.Consumer.id == m.ConsumerFeature.consumer_id)
                .where(m.Consumer.name == principal))
    return [("feature", i) for i in session.scalars(
        select(m.Feature.id).where(m.Feature.name.in_(read), m.Feature.id.not_in(declared)))]


def catalog_graph(session: Session, *, team: str | None = None, depth: int = 1,
                  limit: int = 200, undeclared: bool = True,
                  flow: nx.DiGraph | None = None,
                  warnings: CatalogWarnings | None = None) -> GraphData:
    """The catalog, or one team's objects and their neighbours within `depth` hops.

    What matters is kept first, whatever the node limit: every undeclared read (the feature
    and its reader) and every member of a feedback loop. The limit is then filled with the
    objects that have a critical, then a warning finding, then the most connected part: for a
    team, its own objects first, then their neighbours by distance; for the whole catalog, the
    largest connected groups first, each walked breadth-first from its best-connected node.
    `flow` is `catalog_flow(session)` and `warnings` `catalog_warnings(session)`, when the
    caller keeps them. The graph's `left_out` says what the limit left out.
    """
    flow = catalog_flow(session) if flow is None else flow
    order: Iterable[NodeKey]
    if team is not None:
        order, scope = _team_order(session, flow, team, depth)
    else:
        order = _catalog_order(flow)
        scope = flow.graph.get("whole_catalog_scope") or set(order)
        flow.graph["whole_catalog_scope"] = scope
    known = catalog_warnings(session) if warnings is None else warnings
    features, readers = known.features, known.readers
    reads = [row for row in known.reads if undeclared and (
        features[row[0]] in scope or readers.get(row[1], ("", -1)) in scope)]
    must = list(dict.fromkeys([
        *(key for key in (*loop_members(flow), *known.observed_loops) if key in scope),
        *(features[row[0]] for row in reads),
        *(readers[row[1]] for row in reads if row[1] in readers)]))
    unregistered = {row[1] for row in reads if row[1] not in readers}
    warned = [key for key in known.warned if key in scope]
    size = len(must) + max(limit - len(must) - len(unregistered), 0)
    kept, held = list(must), set(must)
    for key in chain(warned, order):
        if len(kept) >= size:
            break
        if key not in held:
            kept.append(key)
            held.add(key)
    graph = _build(session, kept, describe(session, kept),
                   available=len(scope | set(must)) + len(unregistered), focus=None,
                   reads=reads)
    _record_cut(graph, scope, kept, warned)
    return graph


def _team_order(session: Session, flow: nx.DiGraph, team: str, depth: int
                ) -> tuple[Iterator[NodeKey], set[NodeKey]]:
    """A team's objects (best connected first), then their neighbours by distance (`walk`'s
    order over undirected edges, produced only as far as the caller reads it: a view keeps a
    few hundred of a team's thousands), and the set of all of them."""
    if session.scalar(select(m.Team.id).where(m.Team.name == team)) is None:
        raise NotFound(f"no team named {team!r}")
    held = lineage.cached_catalog(session)
    seeds: list[NodeKey] = []
    if held is not None and held.flow is flow:
        seeds = list(held.owned.get(team, ()))
    else:
        for kind, model in lineage.MODELS.items():
            seeds += [(kind, i) for i in session.scalars(
                select(model.id).join(m.Team, m.Team.id == model.owner_id)
                .where(m.Team.name == team))]
    pred, succ = flow._pred, flow._succ  # degree as flow.degree counts it, without its view
    degree = {n: len(pred[n]) + len(succ[n]) for n in seeds}
    seeds.sort(key=lambda n: (-degree[n], n))
    scope, frontier = set(seeds), set(seeds)
    for _level in range(depth):
        reached = set().union(*(pred[n] for n in frontier), *(succ[n] for n in frontier))
        frontier = reached - scope
        scope |= frontier
    return _breadth_first(seeds, pred, succ, depth), scope


def _breadth_first(seeds: list[NodeKey], pred: Any, succ: Any, depth: int
                   ) -> Iterator[NodeKey]:
    seen = set(seeds)
    yield from seeds
    level = seeds
    for _level in range(depth):
        following: list[NodeKey] = []
        for node in level:
            for other in sorted({*pred[node], *succ[node]}):
                if other not in seen:
                    seen.add(other)
                    following.append(other)
                    yield other
        level = following


def _catalog_order(flow: nx.DiGraph) -> list[NodeKey]:
    """Every node, the largest connected groups first, each walked breadth-first from its
    best-connected node (kept with the flow, which is reused while the catalog is
    unchanged)."""
    order: list[NodeKey] | None = flow.graph.get("whole_catalog_order")
    if order is None:
        pred, succ = flow.pred, flow.succ
        order = []
        components = sorted(nx.weakly_connected_components(flow),
                            key=lambda c: (-len(c), min(c)))
        for component in components:  # `walk`'s order (sorted neighbours), without its levels
            start = min(component, key=lambda n: (-flow.degree(n), n))
            seen, queue = {start}, deque([start])
            while queue:
                node = queue.popleft()
                order.append(node)
                for other in sorted({*pred[node], *succ[node]} - seen):
                    seen.add(other)
                    queue.append(other)
        flow.graph["whole_catalog_order"] = order
    return order


def lineage_listing(session: Session, name: str, *, direction: str = "both",
                    depth: int | None = None) -> dict[str, Any]:
    """Upstream and/or downstream objects of a name, each with its distance and parent."""
    check_direction(direction)
    start = lineage.resolve_node(session, name)
    out: dict[str, Any] = {"name": name, "type": start[0], "direction": direction,
                           "depth": depth}
    for side, downstream in (("upstream", False), ("downstream", True)):
        if direction in ("both", side):
            nodes = lineage.traverse(session, start, downstream=downstream, depth=depth)
            out[side] = [n.to_dict() for n in nodes]
    return out


def _listing(key: str, name: str, nodes: list[lineage.LineageNode], types: tuple[str, ...]
             ) -> dict[str, Any]:
    return {key: name, "nodes": [n.to_dict() for n in nodes],
            "counts": {t: sum(1 for n in nodes if n.type == t) for t in types}}


def impact_listing(session: Session, source: str) -> dict[str, Any]:
    return _listing("source", source, lineage.impact(session, source),
                    ("feature", "consumer", "source"))


def closure_listing(session: Session, consumer: str) -> dict[str, Any]:
    return _listing("consumer", consumer, lineage.closure(session, consumer),
                    ("feature", "source", "consumer"))
