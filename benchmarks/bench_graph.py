"""Benchmark: drawing the graph explorer's graph of N nodes (default 5,000), as /graph does.

A deterministic catalog-shaped graph (20 teams; sources, features built on them and on each
other, consumers declaring features, model outputs read back, undeclared readers) goes through
the same steps as the page: the DOT source with teams drawn around their labels
(`web.graph_dot.build_dot(..., spring=True)`), Graphviz `sfdp` to SVG, cleaned for inlining
(`web.graph_render.SvgRenderer`), then the same drawing again from the in-memory cache (what
every later request for an unchanged catalog costs). The baseline is the same steps for a
500-node graph (the explorer's largest default cut of earlier versions).

    python benchmarks/bench_graph.py                  # 5,000 nodes
    python benchmarks/bench_graph.py --nodes 20000    # a bigger cut
    python benchmarks/bench_graph.py --quick          # 1,000 nodes
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import Figure, report, timed  # noqa: E402
from featreg.web.graph_dot import build_dot  # noqa: E402
from featreg.web.graph_render import SvgRenderer  # noqa: E402

TEAMS = [f"team{i:02d}" for i in range(20)]
RENDER_TARGET = 20.0  # s: Graphviz's time limit for sfdp in web.graph_render (SFDP_TIMEOUT)


def _node(kind: str, name: str, owner: str | None, **extra: Any) -> dict[str, Any]:
    return {"id": f"{kind}:{name}", "type": kind, "name": name, "owner": owner,
            "status": "active" if kind == "feature" else None, "registered": owner is not None,
            "findings": [], "severity": None, "loop": False, "health": [], **extra}


def synthetic_graph(n: int, seed: int = 0) -> dict[str, Any]:
    """About n nodes: 5% sources, 85% features, 10% consumers and unregistered readers."""
    rng = random.Random(seed)
    sources = [_node("source", f"warehouse.t{i:04d}", TEAMS[i % 20]) for i in range(n // 20)]
    features = [_node("feature", f"f_{i:05d}_window_{i % 7}d", TEAMS[i % 20])
                for i in range(n * 85 // 100)]
    consumers = [_node("consumer", f"model_{i:04d}", TEAMS[i % 20]) for i in range(n // 12)]
    readers = [_node("consumer", f"notebook_{i}", None) for i in range(max(n // 100, 1))]
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for i, feature in enumerate(features):
        edges[(rng.choice(sources)["id"], feature["id"])] = {"kind": "source", "loop": False}
        if i > 10 and rng.random() < 0.2:
            edges[(features[rng.randrange(i)]["id"], feature["id"])] = {"kind": "depends",
                                                                        "loop": False}
    for consumer in consumers:
        for feature in rng.sample(features, min(8, len(features))):
            edges[(feature["id"], consumer["id"])] = {"kind": "declared", "loop": False}
    for reader in readers:
        for feature in rng.sample(features, 3):
            edges[(feature["id"], reader["id"])] = {"kind": "undeclared", "loop": False}
    for i, consumer in enumerate(consumers[:10]):  # model outputs read back: feedback loops
        output = sources[i]
        edges[(consumer["id"], output["id"])] = {"kind": "produces", "loop": True}
    nodes = sources + features + consumers + readers
    return {"focus": None, "nodes": nodes,
            "edges": [{"from": a, "to": b, **data} for (a, b), data in sorted(edges.items())]}


def links(kind: str, name: str) -> str:
    return f"/{kind}s/{name}"


def draw(n: int) -> tuple[float, float, float, int]:
    """(DOT build s, cold sfdp render s, cached render s, SVG bytes) for an n-node graph."""
    graph = synthetic_graph(n)
    build_s, source = timed(lambda: build_dot(graph, links, spring=True))
    renderer = SvgRenderer()
    cold_s, svg = timed(lambda: renderer.render(source, "sfdp"))
    cached_s, _ = timed(lambda: renderer.render(source, "sfdp"))
    return build_s, cold_s, cached_s, len(svg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="1,000 nodes")
    args = parser.parse_args()
    nodes = 1000 if args.quick else args.nodes
    base_build, base_cold, _base_cached, _ = draw(500)
    build_s, cold_s, cached_s, size = draw(nodes)
    report("bench_graph.py", [
        Figure(f"DOT source of {nodes:,} nodes", build_s, baseline=base_build,
               baseline_name="500 nodes"),
        Figure(f"sfdp drawing of {nodes:,} nodes (first request)", cold_s, baseline=base_cold,
               baseline_name="500 nodes", target=RENDER_TARGET,
               note=f"{size / 1e6:.1f} MB of SVG"),
        Figure("the same drawing from the cache (later requests)", cached_s,
               baseline=base_cold, baseline_name="first request"),
    ], nodes=nodes)


if __name__ == "__main__":
    main()
