"""Lineage, impact and closure on SQLite and PostgreSQL, against a networkx reference.

The reference graph is built from the spec itself (not from the database): source -> feature,
dependency -> derived feature, feature -> consumer, consumer -> the source it produces.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import networkx as nx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from registry.analysis.graph import graph_neighbours, walk
from registry.catalog import lineage
from registry.catalog import service as catalog
from registry.core.errors import NotFound
from registry.store.db import session_factory, session_scope

Node = tuple[str, str]
Entries = list[tuple[str, Mapping[str, Any]]]


def synthetic_entries(seed: int = 11) -> Entries:
    """A catalog with derived features, shared sources and a feedback loop through a model."""
    rng = random.Random(seed)
    entries: Entries = [
        ("teams", {"name": t}) for t in ("growth", "ads", "risk")]
    tables = [f"table_{i}" for i in range(6)]
    entries += [("sources", {"name": s, "kind": "table", "owner": rng.choice(["growth", "ads"])})
                for s in tables]
    entries += [("sources", {"name": f"model_{i}.scores", "kind": "model_output",
                             "owner": "ads", "produced_by": f"model_{i}"}) for i in range(2)]
    features: list[str] = []
    for i in range(50):
        name = f"f{i:02d}"
        sources = rng.sample(tables, rng.randint(0 if features else 1, 2))
        if i in (30, 40):
            sources.append(f"model_{i // 40}.scores")  # model outputs feed later features
        depends_on = rng.sample(features, min(len(features), rng.randint(0, 3)))
        if i == 49 and "f30" not in depends_on:
            depends_on.append("f30")  # f49 is derived from model_0's output
        entries.append(("features", {
            "name": name, "owner": rng.choice(["growth", "ads", "risk"]), "dtype": "float",
            "sources": sources, "depends_on": depends_on,
        }))
        features.append(name)
    for i in range(8):
        # model_0 reads f45..f49; f49 is downstream of its own output: a feedback loop
        chosen = features[45:] if i == 0 else rng.sample(features, rng.randint(1, 6))
        entries.append(("consumers", {"name": f"model_{i}", "kind": "model", "owner": "ads",
                                      "features": chosen}))
    return entries


def reference_graph(entries: Entries) -> nx.DiGraph:
    graph = nx.DiGraph()
    for kind, fields in entries:
        node = (kind.rstrip("s"), fields["name"])
        if kind != "teams":
            graph.add_node(node)
        if kind == "sources" and fields.get("produced_by"):
            graph.add_edge(("consumer", fields["produced_by"]), node)
        elif kind == "features":
            graph.add_edges_from((("source", s), node) for s in fields["sources"])
            graph.add_edges_from((("feature", d), node) for d in fields["depends_on"])
        elif kind == "consumers":
            graph.add_edges_from((("feature", f), node) for f in fields["features"])
    return graph


ENTRIES = synthetic_entries()
GRAPH = reference_graph(ENTRIES)


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    sessions = session_factory(db_url)
    with session_scope(sessions) as session:
        catalog.apply_spec(session, catalog.spec_from_entries(ENTRIES), actor="tester")
    return sessions


def expected(start: Node, *, downstream: bool, depth: int | None = None) -> dict[Node, int]:
    graph = GRAPH if downstream else GRAPH.reverse(copy=False)
    distances = nx.single_source_shortest_path_length(graph, start, cutoff=depth)
    return {node: d for node, d in distances.items() if node != start}


def check(nodes: list[lineage.LineageNode], start: Node, downstream: bool,
          depth: int | None) -> None:
    want = expected(start, downstream=downstream, depth=depth)
    assert {(n.type, n.name): n.depth for n in nodes} == want
    assert nodes == sorted(nodes, key=lambda n: (n.depth, n.type, n.name))
    reached = {(n.type, n.name): n.depth for n in nodes} | {start: 0}
    for n in nodes:  # `via` is a real neighbour one hop closer to the start
        assert n.via is not None
        via_type, via_name = n.via.split(":", 1)
        edge = ((via_type, via_name), (n.type, n.name))
        assert (edge if downstream else edge[::-1]) in GRAPH.edges
        assert reached[(via_type, via_name)] == n.depth - 1


def test_the_reference_catalog_has_a_feedback_loop() -> None:
    cycle = nx.find_cycle(GRAPH, ("consumer", "model_0"))
    assert ("source", "model_0.scores") in {u for u, _ in cycle}


@pytest.mark.parametrize("depth", [None, 1, 2, 3])
def test_lineage_matches_the_reference_graph(sessions: sessionmaker[Session],
                                             depth: int | None) -> None:
    starts = sorted(GRAPH.nodes)[::6]
    with session_scope(sessions) as session:
        for start in starts:
            for downstream in (True, False):
                nodes = lineage.lineage(session, start[1], downstream=downstream, depth=depth)
                check(nodes, start, downstream, depth)


def test_impact_follows_model_outputs_and_stops_at_the_feedback_loop(
        sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        for table in ("table_0", "model_0.scores", "model_1.scores"):
            nodes = lineage.impact(session, table)
            check(nodes, ("source", table), True, None)
        loop = {(n.type, n.name) for n in lineage.impact(session, "model_0.scores")}
    assert ("consumer", "model_0") in loop  # the model depends on its own output
    assert ("source", "model_0.scores") not in loop  # the start is not repeated


def test_closure_is_everything_a_consumer_depends_on(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        for i in range(8):
            check(lineage.closure(session, f"model_{i}"), ("consumer", f"model_{i}"), False, None)


def test_unknown_names_are_not_found(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        with pytest.raises(NotFound, match="no_such"):
            lineage.lineage(session, "no_such", downstream=True)
        with pytest.raises(NotFound, match="no source named 'f00'"):
            lineage.impact(session, "f00")
        with pytest.raises(NotFound, match="no consumer named 'table_0'"):
            lineage.closure(session, "table_0")


# ----- the traversal itself (pure): what every lineage question and graph page is built on ---


def random_digraph(seed: int) -> nx.DiGraph:
    return nx.gnp_random_graph(60, 0.05, seed=seed, directed=True)


def queue_order(graph: nx.Graph, start: int, depth: int | None) -> list[int]:
    """Breadth-first order of a queue over sorted neighbours (the reference for `walk`)."""
    edges = nx.bfs_edges(graph, start, depth_limit=depth, sort_neighbors=sorted)
    return [start, *(v for _, v in edges)]


@pytest.mark.parametrize("seed", range(5))
def test_walk_matches_networkx_distances_and_order(seed: int) -> None:
    graph = random_digraph(seed)
    for start in list(graph)[::7]:
        for depth in (None, 1, 2):
            for direction, reference in (("downstream", graph), ("upstream", graph.reverse())):
                reach = walk([start], graph_neighbours(graph), direction=direction, depth=depth)
                assert reach.depth == nx.single_source_shortest_path_length(
                    reference, start, cutoff=depth)
                assert list(reach.depth) == queue_order(reference, start, depth)
                for node, via in reach.via.items():  # the smallest neighbour one hop closer
                    closer = [p for p in reference.predecessors(node)
                              if reach.depth.get(p) == reach.depth[node] - 1]
                    assert via == (min(closer) if node != start else start)
            undirected = walk([start], graph_neighbours(graph, undirected=True), depth=depth)
            assert list(undirected.depth) == queue_order(graph.to_undirected(), start, depth)


def test_walk_from_several_starts_both_ways_and_capped() -> None:
    graph = nx.DiGraph([(1, 2), (2, 3), (3, 4), (0, 1), (9, 0), (2, 5)])
    both = walk([2], graph_neighbours(graph), direction="both")
    assert both.depth == {2: 0, 1: 1, 3: 1, 5: 1, 0: 2, 4: 2, 9: 3}
    assert walk([2], graph_neighbours(graph), direction="both", cap=4).depth == {
        2: 0, 1: 1, 3: 1, 5: 1}  # stops after the level that reaches the cap
    several = walk([4, 0], graph_neighbours(graph, undirected=True), depth=1)
    assert list(several.depth) == [4, 0, 3, 1, 9]
    assert several.via == {4: 4, 0: 0, 3: 4, 1: 0, 9: 0}
    with pytest.raises(ValueError, match="direction must be one of"):
        walk([1], graph_neighbours(graph), direction="sideways")
