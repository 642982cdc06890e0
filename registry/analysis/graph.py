"""The catalog as a networkx graph: lineage, feedback cycles and transitive closures.

Nodes are ``"feature:NAME"``, ``"source:NAME"`` and ``"consumer:NAME"`` with attributes
``type`` and ``name``. Edges point the way data flows:

* source → feature (the feature is built on the source),
* feature → feature (dependency → derived feature),
* feature → consumer (the consumer declares the feature),
* consumer → source (the consumer produces the source: ``produces`` or ``produced_by``).

References to objects that are not in the catalog are left out. Nodes and edges are added in
sorted order so every traversal is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

import networkx as nx

from registry.analysis.inputs import ConsumerInfo, FeatureInfo, SourceInfo

__all__ = [
    "ConsumerClosure",
    "build_catalog_graph",
    "consumer_closure",
    "features_built_on",
    "features_by_source",
    "feedback_cycles",
    "lineage_graph",
    "lineage_hops",
    "node_id",
    "parse_node",
]

NODE_TYPES = ("feature", "source", "consumer")


def node_id(node_type: str, name: str) -> str:
    """The graph node of an object: ``node_id("feature", "x") == "feature:x"``."""
    if node_type not in NODE_TYPES:
        raise ValueError(f"unknown node type {node_type!r}")
    return f"{node_type}:{name}"


def parse_node(node: str) -> tuple[str, str]:
    """(type, name) of a graph node."""
    node_type, _, name = node.partition(":")
    return node_type, name


def build_catalog_graph(
    features: Iterable[FeatureInfo],
    sources: Iterable[SourceInfo],
    consumers: Iterable[ConsumerInfo],
) -> nx.DiGraph:
    """The dependency graph of the catalog (see the module docstring)."""
    feature_list = sorted(features, key=lambda f: f.name)
    source_list = sorted(sources, key=lambda s: s.name)
    consumer_list = sorted(consumers, key=lambda c: c.name)
    graph = nx.DiGraph()
    for node_type, items in (("source", source_list), ("feature", feature_list),
                             ("consumer", consumer_list)):
        for item in items:
            graph.add_node(node_id(node_type, item.name), type=node_type, name=item.name)

    edges: set[tuple[str, str]] = set()
    for feature in feature_list:
        target = node_id("feature", feature.name)
        edges.update((node_id("source", s), target) for s in feature.sources)
        edges.update((node_id("feature", d), target) for d in feature.depends_on)
    for consumer in consumer_list:
        node = node_id("consumer", consumer.name)
        edges.update((node_id("feature", f), node) for f in consumer.features)
        edges.update((node, node_id("source", s)) for s in consumer.produces)
    for source in source_list:
        if source.produced_by is not None:
            edges.add((node_id("consumer", source.produced_by), node_id("source", source.name)))
    graph.add_edges_from(sorted((u, v) for u, v in edges if u in graph and v in graph))
    return graph


def lineage_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """The sources and features only (source → feature and feature → feature edges)."""
    keep = [n for n, data in graph.nodes(data=True) if data["type"] in ("source", "feature")]
    return graph.subgraph(keep)


def lineage_hops(graph: nx.DiGraph) -> dict[str, int]:
    """Fewest hops from any source to each feature: 1 when built on a source directly.

    Features that no source reaches (no sources, nor through their dependencies) are absent.
    """
    lineage = lineage_graph(graph)
    starts = sorted(n for n, data in lineage.nodes(data=True) if data["type"] == "source")
    if not starts:
        return {}
    distances = nx.multi_source_dijkstra_path_length(lineage, starts)
    return {
        parse_node(node)[1]: int(distance)
        for node, distance in sorted(distances.items())
        if lineage.nodes[node]["type"] == "feature"
    }


def features_built_on(graph: nx.DiGraph, source: str) -> list[str]:
    """Features built on ``source`` directly or through dependencies, sorted by name."""
    lineage = lineage_graph(graph)
    start = node_id("source", source)
    if start not in lineage:
        return []
    return sorted(parse_node(n)[1] for n in nx.descendants(lineage, start))


def features_by_source(graph: nx.DiGraph) -> dict[str, list[str]]:
    """`features_built_on` for every source at once: source name -> sorted feature names."""
    lineage = lineage_graph(graph)
    return {
        parse_node(node)[1]: sorted(parse_node(n)[1] for n in nx.descendants(lineage, node))
        for node in sorted(lineage)
        if lineage.nodes[node]["type"] == "source"
    }


def feedback_cycles(graph: nx.DiGraph, limit: int | None = None) -> list[list[str]]:
    """Every elementary cycle that passes through a consumer, as a list of nodes.

    Such a cycle runs consumer → produced source → feature (→ derived features) → consumer,
    possibly through several consumers. Each cycle is rotated to start at its alphabetically
    smallest consumer node; the list is sorted. At most ``limit`` cycles are enumerated.
    """
    cyclic_nodes: set[str] = set()
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cyclic_nodes.update(component)
    subgraph = graph.subgraph(sorted(cyclic_nodes))
    found: list[list[str]] = []
    for cycle in islice(nx.simple_cycles(subgraph), limit):
        consumers = [n for n in cycle if graph.nodes[n]["type"] == "consumer"]
        if not consumers:
            continue
        start = cycle.index(min(consumers))
        found.append(cycle[start:] + cycle[:start])
    return sorted(found)


@dataclass(frozen=True)
class ConsumerClosure:
    """Everything a consumer depends on, transitively (names, sorted)."""

    consumer: str
    features: tuple[str, ...]
    sources: tuple[str, ...]
    consumers: tuple[str, ...]
    """Other consumers whose outputs it depends on (itself when in a feedback loop)."""


def consumer_closure(graph: nx.DiGraph, consumer: str) -> ConsumerClosure:
    """The transitive closure of ``consumer``'s data dependencies (its graph ancestors).

    Raises KeyError when the consumer is not in the graph.
    """
    node = node_id("consumer", consumer)
    if node not in graph:
        raise KeyError(f"unknown consumer {consumer!r}")
    grouped: dict[str, list[str]] = {t: [] for t in NODE_TYPES}
    for ancestor in nx.ancestors(graph, node):
        node_type, name = parse_node(ancestor)
        grouped[node_type].append(name)
    in_loop = any(nx.has_path(graph, successor, node) for successor in graph.successors(node))
    consumers = set(grouped["consumer"]) | ({consumer} if in_loop else set())
    return ConsumerClosure(
        consumer=consumer,
        features=tuple(sorted(grouped["feature"])),
        sources=tuple(sorted(grouped["source"])),
        consumers=tuple(sorted(consumers)),
    )
