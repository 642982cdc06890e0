"""The catalog as a graph: the kinds of edge, the one traversal, cycles and closures.

Nodes are ``"feature:NAME"``, ``"source:NAME"`` and ``"consumer:NAME"`` with attributes
``type`` and ``name``. Edges point the way data flows; their kinds (`EDGE_KINDS`, the one list
of them: the database's edge tables are mapped onto it in `registry.catalog.lineage`) are

* ``source``: source → feature (the feature is built on the source),
* ``depends``: feature → feature (dependency → derived feature),
* ``declared``: feature → consumer (the consumer declares the feature),
* ``produces``: consumer → source (the consumer produces the source: ``produces`` or
  ``produced_by``).

References to objects that are not in the catalog are left out. Nodes and edges are added in
sorted order so every traversal is deterministic.

`walk` is the one breadth-first traversal: lineage, impact and closure over the database (one
batched query per level), the graph pages, the report's snippets and the lineage hops the
detectors use all call it, each with its own neighbour function (`graph_neighbours` for a
networkx graph).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import networkx as nx

if TYPE_CHECKING:
    from registry.analysis.inputs import ConsumerInfo, FeatureInfo, SourceInfo

__all__ = [
    "DIRECTIONS",
    "EDGE_KINDS",
    "ConsumerClosure",
    "Expand",
    "Reach",
    "Step",
    "build_catalog_graph",
    "check_direction",
    "consumer_closure",
    "features_built_on",
    "features_by_source",
    "feedback_cycles",
    "graph_neighbours",
    "lineage_graph",
    "lineage_hops",
    "node_id",
    "parse_node",
    "sources_reaching",
    "walk",
]

NODE_TYPES = ("feature", "source", "consumer")
EDGE_KINDS: dict[str, tuple[str, str]] = {
    "source": ("source", "feature"),
    "depends": ("feature", "feature"),
    "declared": ("feature", "consumer"),
    "produces": ("consumer", "source"),
}
"""The catalog's declared edges: kind -> (type it comes from, type it goes to)."""
DIRECTIONS = ("both", "upstream", "downstream")


def check_direction(direction: str) -> None:
    """ValueError unless `direction` is one of DIRECTIONS."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


N = TypeVar("N", bound=_Ordered)
Step = tuple[N, bool]  # a node, and whether it is followed downstream (else upstream)
Expand = Callable[[Sequence[Step[N]]], Mapping[Step[N], Iterable[N]]]
"""A neighbour function: for a level's steps, the neighbours of each (downstream: the ends of
the edges leaving the node; upstream: the starts of the edges entering it), in any order;
steps without neighbours may be left out."""


@dataclass(frozen=True)
class Reach(Generic[N]):
    """What `walk` reached: each node's fewest hops (in the order reached, the starts first),
    and the node one hop closer it came from (the smallest, when several; a start: itself)."""

    depth: dict[N, int]
    via: dict[N, N]


def walk(starts: Iterable[N], expand: Expand[N], *, direction: str = "downstream",
         depth: int | None = None, cap: int | None = None) -> Reach[N]:
    """Breadth-first search from the starts: every node within `depth` hops, in the order a
    queue over sorted neighbours reaches it.

    `expand` is called once per level with the whole frontier (so it can be one batched
    query). "both" follows each node on in the direction it was reached: the upstream of its
    upstream, the downstream of its downstream (a node reached both ways at the same distance:
    both). Cycles stop; so does the level at which `cap` nodes are reached.
    """
    check_direction(direction)
    ways = {"both": (True, False), "upstream": (False,), "downstream": (True,)}[direction]
    hops: dict[N, int] = {}
    via: dict[N, N] = {}
    for start in starts:
        hops.setdefault(start, 0)
        via.setdefault(start, start)
    frontier: list[Step[N]] = [(node, way) for node in hops for way in ways]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        around = expand(frontier)
        following: dict[Step[N], None] = {}
        for step in frontier:
            node, way = step
            for child in sorted(around.get(step, ())):
                held = hops.get(child)
                if held is None:
                    hops[child] = level
                    via[child] = node
                elif held != level:
                    continue
                elif node < via[child]:
                    via[child] = node
                following[(child, way)] = None
        frontier = list(following)
        if cap is not None and len(hops) >= cap:
            break
    return Reach(hops, via)


def graph_neighbours(graph: nx.DiGraph, *, undirected: bool = False,
                     kinds: Collection[str] | None = None) -> Expand[Any]:
    """`walk`'s neighbour function for a networkx graph: along its edges (undirected: either
    way, whatever the direction; `kinds`: only edges whose ``kind`` is one of them). Nodes
    absent from the graph have no neighbours."""
    # the adjacency dicts themselves (networkx's read-only views cost a wrapper per lookup)
    pred: dict[Any, dict[Any, dict[str, Any]]] = graph._pred
    succ: dict[Any, dict[Any, dict[str, Any]]] = graph._succ

    def expand(frontier: Sequence[Step[Any]]) -> dict[Step[Any], Iterable[Any]]:
        if undirected:
            return {(node, way): [*pred[node], *succ[node]]
                    for node, way in frontier if node in graph}
        if kinds is not None:
            return {(node, way): [other for other, edge in (succ if way else pred)[node].items()
                                  if edge["kind"] in kinds]
                    for node, way in frontier if node in graph}
        return {(node, way): (succ if way else pred)[node]
                for node, way in frontier if node in graph}
    return expand


def node_id(node_type: str, name: str) -> str:
    """The graph node of an object: ``node_id("feature", "x") == "feature:x"``."""
    if node_type not in NODE_TYPES:
        raise ValueError(f"unknown node type {node_type!r}")
    return f"{node_type}:{name}"


def parse_node(node: str) -> tuple[str, str]:
    """(type, name) of a graph node."""
    node_type, _, name = node.partition(":")
    return node_type, name


def _declared_edges(features: Iterable[FeatureInfo], sources: Iterable[SourceInfo],
                    consumers: Iterable[ConsumerInfo]) -> Iterator[tuple[str, str, str]]:
    """(kind, from name, to name) of every edge the objects declare."""
    for feature in features:
        yield from (("source", s, feature.name) for s in feature.sources)
        yield from (("depends", d, feature.name) for d in feature.depends_on)
    for consumer in consumers:
        yield from (("declared", f, consumer.name) for f in consumer.features)
        yield from (("produces", consumer.name, s) for s in consumer.produces)
    for source in sources:
        if source.produced_by is not None:
            yield "produces", source.produced_by, source.name


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

    edges: dict[tuple[str, str], str] = {}
    for kind, a, b in _declared_edges(feature_list, source_list, consumer_list):
        from_type, to_type = EDGE_KINDS[kind]
        edges[(node_id(from_type, a), node_id(to_type, b))] = kind
    graph.add_edges_from((u, v, {"kind": kind}) for (u, v), kind in sorted(edges.items())
                         if u in graph and v in graph)
    return graph


def lineage_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """The sources and features only (source → feature and feature → feature edges)."""
    keep = [n for n, data in graph.nodes(data=True) if data["type"] in ("source", "feature")]
    return graph.subgraph(keep)


def lineage_hops(graph: nx.DiGraph) -> dict[str, int]:
    """Fewest hops from any source to each feature: 1 when built on a source directly.

    Features that no source reaches (no sources, nor through their dependencies) are absent.
    """
    starts = sorted(n for n, data in graph.nodes(data=True) if data["type"] == "source")
    hops = walk(starts, graph_neighbours(graph, kinds=("source", "depends"))).depth
    return {parse_node(node)[1]: hops[node] for node in sorted(hops)
            if graph.nodes[node]["type"] == "feature"}


def features_built_on(graph: nx.DiGraph, source: str) -> list[str]:
    """Features built on ``source`` directly or through dependencies, sorted by name."""
    lineage = lineage_graph(graph)
    start = node_id("source", source)
    if start not in lineage:
        return []
    return sorted(parse_node(n)[1] for n in nx.descendants(lineage, start))


def features_by_source(graph: nx.DiGraph,
                       sources: Collection[str] | None = None) -> dict[str, list[str]]:
    """`features_built_on` for every source (or only `sources`) at once: source name ->
    sorted feature names."""
    expand = graph_neighbours(graph, kinds=("source", "depends"))  # no subgraph view: slow
    starts = sorted(node for node, data in graph.nodes(data=True) if data["type"] == "source"
                    and (sources is None or data["name"] in sources))
    return {parse_node(start)[1]: sorted(parse_node(n)[1] for n in walk([start], expand).depth
                                         if n != start)
            for start in starts}


def sources_reaching(graph: nx.DiGraph, features: Iterable[str]) -> set[str]:
    """Names of the sources some of `features` is built on (directly or through
    ``depends_on``): one upstream traversal from all of them at once."""
    starts = sorted(n for n in (node_id("feature", f) for f in features) if n in graph)
    reached = walk(starts, graph_neighbours(graph, kinds=("source", "depends")),
                   direction="upstream").depth
    return {parse_node(n)[1] for n in reached if graph.nodes[n]["type"] == "source"}


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
