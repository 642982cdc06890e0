"""Graph facts for the report: what deleting a feature removes, and small neighbourhoods to draw.

Pure functions of the catalog graph (`registry.analysis.graph.build_catalog_graph`: nodes
``type:name``, edges in the direction data flows). No database, no rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from registry.analysis.graph import graph_neighbours, node_id, parse_node, walk

__all__ = ["DeletionPayoff", "GraphSnippet", "cycle_snippet", "deletion_payoff",
           "feature_snippet"]

GraphSnippet = dict[str, Any]
"""``{"nodes": [{"id", "type", "name", "role"}], "edges": [{"source", "target", "style"}]}``."""
MAX_SNIPPET_NODES = 16


@dataclass(frozen=True)
class DeletionPayoff:
    """What deleting ``features`` (one feature, or every feature on a source) takes away.

    ``exclusive_sources`` / ``exclusive_features`` are upstream nodes that nothing else needs
    once the features are gone (all their downstream is being deleted too);
    ``upstream_removed`` counts the dependency edges that disappear with the features and
    them. ``consumers_to_migrate`` declare a deleted feature; ``derived_features`` are built on
    one and are not deleted themselves.
    """

    features: tuple[str, ...]
    upstream_removed: int
    exclusive_sources: tuple[str, ...]
    exclusive_features: tuple[str, ...]
    consumers_to_migrate: tuple[str, ...]
    derived_features: tuple[str, ...]

    @property
    def per_feature(self) -> float:
        """Upstream dependencies removed per feature deleted (the payoff ranking)."""
        deleted = len(self.features) + len(self.exclusive_features)
        return self.upstream_removed / deleted if deleted else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "upstream_removed": self.upstream_removed,
                "per_feature": round(self.per_feature, 3),
                "exclusive_sources": list(self.exclusive_sources),
                "exclusive_features": list(self.exclusive_features),
                "consumers_to_migrate": list(self.consumers_to_migrate),
                "derived_features": list(self.derived_features)}


def _names(nodes: Iterable[str], node_type: str) -> tuple[str, ...]:
    return tuple(sorted(name for t, name in map(parse_node, nodes) if t == node_type))


def deletion_payoff(graph: nx.DiGraph, features: str | Iterable[str]) -> DeletionPayoff:
    """The payoff of deleting ``features`` (features absent from the graph remove nothing)."""
    names = (features,) if isinstance(features, str) else tuple(sorted(set(features)))
    starts = {node_id("feature", name) for name in names} & set(graph)
    upstream = {n for start in starts for n in nx.ancestors(graph, start)
                if graph.nodes[n]["type"] in ("source", "feature")} - starts
    doomed = set(starts)
    changed = True
    while changed:  # a node goes when everything directly downstream of it goes
        changed = False
        for node in sorted(upstream - doomed):
            if all(successor in doomed for successor in graph.successors(node)):
                doomed.add(node)
                changed = True
    removed = sum(1 for node in doomed for _ in graph.predecessors(node))
    downstream = {s for start in starts for s in graph.successors(start)} - doomed
    return DeletionPayoff(
        features=names,
        upstream_removed=removed,
        exclusive_sources=_names(doomed - starts, "source"),
        exclusive_features=_names(doomed - starts, "feature"),
        consumers_to_migrate=_names(downstream, "consumer"),
        derived_features=_names(downstream, "feature"),
    )


def _snippet(graph: nx.DiGraph, roles: dict[str, str],
             extra_edges: Iterable[tuple[str, str, str]] = ()) -> GraphSnippet:
    nodes = [{"id": n, "type": parse_node(n)[0], "name": parse_node(n)[1], "role": role}
             for n, role in sorted(roles.items())]
    edges = [{"source": u, "target": v, "style": "declared"}
             for u, v in sorted(graph.subgraph(roles).edges())]
    edges += [{"source": u, "target": v, "style": style} for u, v, style in extra_edges]
    return {"nodes": nodes, "edges": edges}


def feature_snippet(graph: nx.DiGraph, feature: str, *, keep: str | None = None,
                    undeclared_readers: Iterable[str] = ()) -> GraphSnippet:
    """The feature (and the feature to keep instead) with their direct neighbours, nearest the
    feature first; readers that never declared the feature are drawn with a dashed edge."""
    center = node_id("feature", feature)
    roles: dict[str, str] = {center: "subject"}
    if keep is not None:
        roles[node_id("feature", keep)] = "keep"
    for neighbour in walk(list(roles), graph_neighbours(graph, undirected=True), depth=1).depth:
        if len(roles) >= MAX_SNIPPET_NODES:
            break
        roles.setdefault(neighbour, "context")
    extra = []
    for reader in sorted(undeclared_readers):
        reader_node = node_id("consumer", reader)
        if len(roles) < MAX_SNIPPET_NODES or reader_node in roles:
            roles[reader_node] = "undeclared"
            extra.append((center, reader_node, "undeclared"))
    return _snippet(graph, roles, extra)


def cycle_snippet(cycle: list[dict[str, str]]) -> GraphSnippet:
    """A feedback loop as drawn: its nodes in order and the edges around the cycle."""
    ids = [node_id(item["type"], item["name"]) for item in cycle]
    nodes = [{"id": n, "type": parse_node(n)[0], "name": parse_node(n)[1],
              "role": "subject" if i == 0 else "context"} for i, n in enumerate(ids)]
    edges = [{"source": ids[i], "target": ids[(i + 1) % len(ids)], "style": "declared"}
             for i in range(len(ids))]
    return {"nodes": nodes, "edges": edges}
