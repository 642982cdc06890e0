"""correlated: clusters keep one feature, chosen by lineage hops, then importance, then usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.analysis.detectors.correlated import CorrelatedDetector
from registry.analysis.inputs import (
    AnalysisInput,
    CorrelatedPair,
    FeatureInfo,
    ImportanceValue,
    ReadStat,
    SourceInfo,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def feature(name: str, **fields: Any) -> FeatureInfo:
    fields.setdefault("description", "documented")
    return FeatureInfo(name=name, created=NOW - timedelta(days=365), **fields)


def build(
    features: list[FeatureInfo],
    pairs: list[tuple[str, str, float | None, float | None]],
    *,
    importance: dict[str, float] | None = None,
    reads: dict[str, int] | None = None,
) -> AnalysisInput:
    return AnalysisInput.build(
        now=NOW,
        features=features,
        sources=[SourceInfo(name="raw")],
        correlations=[CorrelatedPair(a, b, p, s, 500) for a, b, p, s in pairs],
        importance=[ImportanceValue(consumer="m", feature=n, value=v)
                    for n, v in (importance or {}).items()],
        reads=[ReadStat(principal="m", feature=n, count=c, last_read=NOW - timedelta(days=1))
               for n, c in (reads or {}).items()],
    )


def keepers(inp: AnalysisInput) -> dict[str, tuple[str, str]]:
    """Dropped feature -> (keeper, reason)."""
    return {f.subject_name: (f.related[0][1], f.evidence["reason"])
            for f in CorrelatedDetector().run(inp)}


def test_a_cluster_of_three_keeps_one_and_reports_the_chain() -> None:
    features = [feature(n, sources=("raw",)) for n in ("a", "b", "c")]
    inp = build(features, [("a", "b", 0.99, None), ("b", "c", None, -0.96)],
                importance={"a": 0.1, "b": 0.5, "c": 0.4})
    found = CorrelatedDetector().run(inp)
    assert keepers(inp) == {"a": ("b", "importance"), "c": ("b", "importance")}
    by_name = {f.subject_name: f for f in found}
    assert by_name["c"].evidence["spearman"] == -0.96  # negative correlation is redundancy too
    assert by_name["a"].evidence["cluster"] == ["a", "b", "c"]


def test_a_chain_without_a_direct_link_to_the_keeper_names_the_path() -> None:
    features = [feature(n, sources=("raw",)) for n in ("a", "b", "c")]
    inp = build(features, [("a", "b", 0.99, None), ("b", "c", 0.99, None)],
                importance={"a": 0.9, "b": 0.05, "c": 0.05})
    by_name = {f.subject_name: f for f in CorrelatedDetector().run(inp)}
    assert by_name["c"].evidence["chain"] == ["c", "b", "a"]
    assert by_name["c"].evidence["pearson"] is None
    assert "linked through b" in by_name["c"].summary


def test_fewer_lineage_hops_wins_over_importance() -> None:
    features = [feature("direct", sources=("raw",)), feature("derived", depends_on=("direct",)),
                feature("no_lineage")]
    inp = build(features, [("direct", "derived", 0.99, 0.99), ("derived", "no_lineage", 0.97, 0.9)],
                importance={"direct": 0.01, "derived": 0.8, "no_lineage": 0.9})
    assert keepers(inp) == {"derived": ("direct", "hops"), "no_lineage": ("direct", "hops")}


def test_importance_decides_when_hops_tie_then_usage_then_name() -> None:
    same_hops = [feature(n, sources=("raw",)) for n in ("x", "y")]
    pair = [("x", "y", 0.98, 0.98)]
    assert keepers(build(same_hops, pair, importance={"x": 0.2, "y": 0.3})) == {
        "x": ("y", "importance")}
    assert keepers(build(same_hops, pair, importance={"x": 0.3, "y": 0.3},
                         reads={"x": 50, "y": 10})) == {"y": ("x", "usage")}
    assert keepers(build(same_hops, pair)) == {"y": ("x", "name")}


def test_weak_pairs_duplicates_and_non_active_features_are_ignored() -> None:
    features = [feature("a"), feature("b"), feature("c", status="deprecated"), feature("d")]
    inp = build(features, [("a", "b", 0.9, 0.94), ("a", "c", 0.99, 0.99), ("d", "a", 0.99, None),
                           ("a", "d", 0.96, None), ("a", "a", 1.0, 1.0),
                           ("a", "ghost", 1.0, 1.0)])
    found = CorrelatedDetector().run(inp)
    assert [(f.subject_name, f.related) for f in found] == [("d", (("feature", "a"),))]
    assert found[0].evidence["pearson"] == 0.99  # the strongest of the repeated pair


@settings(max_examples=40, deadline=None)
@given(
    edges=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=20),
    hops=st.lists(st.integers(0, 2), min_size=12, max_size=12),
    shares=st.lists(st.integers(0, 3), min_size=12, max_size=12),
)
def test_every_component_keeps_exactly_its_best_member(
    edges: list[tuple[int, int]], hops: list[int], shares: list[int]
) -> None:
    names = [f"f{i:02d}" for i in range(12)]
    features = []
    for i, name in enumerate(names):  # hops[i] == 0: no lineage; else chain length hops[i]
        if hops[i] == 1:
            features.append(feature(name, sources=("raw",)))
        elif hops[i] == 2:
            features.append(feature(name, depends_on=(f"base_{name}",)))
            features.append(feature(f"base_{name}", sources=("raw",)))
        else:
            features.append(feature(name))
    pairs = [(names[a], names[b], 0.99, None) for a, b in edges if a != b]
    inp = build(features, pairs, importance={n: float(s) for n, s in zip(names, shares,
                                                                          strict=True)})
    found = keepers(inp)
    graph = nx.Graph((a, b) for a, b, _, _ in pairs)
    for component in nx.connected_components(graph):
        def rank(n: str) -> tuple[float, float, str]:
            h = hops[names.index(n)]
            return (float("inf") if h == 0 else h, -shares[names.index(n)], n)

        expected = min(component, key=rank)
        assert expected not in found
        assert {found[n][0] for n in component if n != expected} == {expected}
    assert len(found) == sum(len(c) - 1 for c in nx.connected_components(graph))
