"""Lineage, impact and closure as breadth-first queries over the edge tables.

The graph: source → feature (feature_sources), feature → feature (feature_dependencies,
dependency → derived), feature → consumer (consumer_features), consumer → source
(sources.produced_by_id). Each BFS level is one indexed query per edge table, so the cost is
proportional to what is reached, not to the size of the catalog; cycles (feedback loops) stop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.core.batches import chunks
from registry.core.errors import NotFound
from registry.store import models as m

NodeKey = tuple[str, int]  # ("feature" | "source" | "consumer", id)

# (from type, to type, table, column of the "from" side, column of the "to" side), downstream.
EDGES: list[tuple[str, str, Any, Any, Any]] = [
    ("source", "feature", m.FeatureSource, m.FeatureSource.source_id,
     m.FeatureSource.feature_id),
    ("feature", "feature", m.FeatureDependency, m.FeatureDependency.depends_on_id,
     m.FeatureDependency.feature_id),
    ("feature", "consumer", m.ConsumerFeature, m.ConsumerFeature.feature_id,
     m.ConsumerFeature.consumer_id),
    ("consumer", "source", m.Source, m.Source.produced_by_id, m.Source.id),
]
MODELS: dict[str, Any] = {"source": m.Source, "feature": m.Feature, "consumer": m.Consumer}


@dataclass(frozen=True)
class LineageNode:
    type: str
    name: str
    depth: int
    via: str | None  # the node it was reached from ("type:name"), None for the start

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "depth": self.depth, "via": self.via}


def resolve_node(session: Session, name: str, types: Iterable[str] = MODELS) -> NodeKey:
    for type_ in types:
        model = MODELS[type_]
        found = session.scalar(select(model.id).where(model.name == name))
        if found is not None:
            return type_, found
    raise NotFound(f"no {' or '.join(types)} named {name!r}")


def _neighbours(session: Session, frontier: list[NodeKey], downstream: bool
                ) -> list[tuple[NodeKey, NodeKey]]:
    by_type: dict[str, list[int]] = {}
    for type_, id_ in frontier:
        by_type.setdefault(type_, []).append(id_)
    found: list[tuple[NodeKey, NodeKey]] = []
    for from_t, to_t, _table, from_col, to_col in EDGES:
        src_t, dst_t, src_col, dst_col = (
            (from_t, to_t, from_col, to_col) if downstream else (to_t, from_t, to_col, from_col)
        )
        ids = by_type.get(src_t, [])
        for part in chunks(ids):
            rows = session.execute(
                select(src_col, dst_col).where(src_col.in_(part),
                                               dst_col.is_not(None))
            )
            found.extend(((src_t, a), (dst_t, b)) for a, b in rows)
    return found


def traverse(session: Session, start: NodeKey, *, downstream: bool, depth: int | None = None
             ) -> list[LineageNode]:
    """Every node reachable from start (excluded) with its shortest distance, sorted."""
    seen: dict[NodeKey, tuple[int, NodeKey]] = {start: (0, start)}
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        nxt: list[NodeKey] = []
        for parent, child in sorted(_neighbours(session, frontier, downstream)):
            if child not in seen:
                seen[child] = (level, parent)
                nxt.append(child)
        frontier = nxt
    del seen[start]
    names = _names(session, set(seen) | {p for _, p in seen.values()} | {start})
    nodes = [
        LineageNode(t, names[(t, i)], d, f"{p[0]}:{names[p]}")
        for (t, i), (d, p) in seen.items()
    ]
    return sorted(nodes, key=lambda n: (n.depth, n.type, n.name))


def _names(session: Session, keys: set[NodeKey]) -> dict[NodeKey, str]:
    out: dict[NodeKey, str] = {}
    for type_, model in MODELS.items():
        ids = [i for t, i in keys if t == type_]
        for part in chunks(ids):
            for id_, name in session.execute(
                select(model.id, model.name).where(model.id.in_(part))
            ):
                out[(type_, id_)] = name
    return out


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
