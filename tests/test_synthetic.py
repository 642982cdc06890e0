"""The synthetic world generator: determinism, a consistent catalog, and planted debts that
match DESIGN.md's definitions when recomputed independently from the generated evidence."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import rankdata

from registry.catalog.spec import load_spec
from registry.synthetic import FINDING_KINDS, World, generate_world, main, read_truth

NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,127}$")
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
NUMERIC = ("int", "float", "bool")


@pytest.fixture(scope="module")
def small() -> World:
    return generate_world(seed=7, snapshot_rows=2000)


@pytest.fixture(scope="module")
def large() -> World:
    started = time.perf_counter()
    world = generate_world(n_features=400, n_consumers=40, snapshot_rows=10000,
                           usage_lines=35000, seed=0)
    elapsed = time.perf_counter() - started
    print(f"400-feature world generated in {elapsed:.2f} s")
    assert elapsed < 10
    return world


@pytest.fixture(params=["small", "large"])
def world(request: pytest.FixtureRequest) -> World:
    return request.getfixturevalue(request.param)


# -- independent recomputation of the evidence ------------------------------------------------
def features_by_name(world: World) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in world.spec["features"]}


def declared(world: World) -> dict[str, set[str]]:
    return {c["name"]: set(c["features"]) for c in world.spec["consumers"]}


def reads(world: World) -> pd.DataFrame:
    rows = [(line["consumer"], name, datetime.fromisoformat(line["ts"]))
            for line in world.usage for name in line.get("features", [line.get("feature")])]
    return pd.DataFrame(rows, columns=["principal", "feature", "ts"])


def report_shares(world: World) -> pd.DataFrame:
    """Share of every feature in every report (consumer, ts)."""
    frame = pd.DataFrame(world.importance)
    frame["share"] = frame.importance / frame.groupby(["consumer", "ts"]).importance.transform(
        "sum")
    return frame


_CORRELATIONS: dict[int, tuple[list[str], np.ndarray]] = {}


def correlated_pairs(world: World, threshold: float) -> set[frozenset[str]]:
    """Pairs with |Pearson| or |Spearman| >= threshold (missing values set to the mean)."""
    if id(world) not in _CORRELATIONS:
        numeric = world.snapshot.drop(columns="label").select_dtypes(["number", "bool"])
        values = numeric.astype(float).to_numpy()
        values = np.where(np.isnan(values), np.nanmean(values, axis=0), values)
        matrices = [np.abs(np.corrcoef(table, rowvar=False))
                    for table in (values, rankdata(values, axis=0))]
        strongest = np.maximum(*matrices)
        np.fill_diagonal(strongest, 0)
        _CORRELATIONS[id(world)] = (list(numeric.columns), strongest)
    columns, strongest = _CORRELATIONS[id(world)]
    return {frozenset((columns[i], columns[j]))
            for i, j in zip(*np.nonzero(strongest >= threshold), strict=True)}


def lineage_hops(world: World) -> dict[str, int]:
    graph = nx.DiGraph()
    for feature in world.spec["features"]:
        graph.add_edges_from((s, feature["name"]) for s in feature.get("sources", []))
        graph.add_edges_from((p, feature["name"]) for p in feature.get("depends_on", []))
    sources = [s["name"] for s in world.spec["sources"] if s["name"] in graph]
    return dict(nx.multi_source_dijkstra_path_length(graph, sources))


# -- determinism and shape --------------------------------------------------------------------
def test_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_world(seed=seed, snapshot_rows=300).write(tmp_path / name)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) >= 10
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    assert (tmp_path / "a/usage.jsonl").read_bytes() != (tmp_path / "c/usage.jsonl").read_bytes()


def test_written_files_round_trip(small: World, tmp_path: Path) -> None:
    small.write(tmp_path)
    merged: dict[str, list[Any]] = defaultdict(list)
    for path in sorted((tmp_path / "catalog").glob("*.yaml")):
        for section, items in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            merged[section] += items
    for section in ("teams", "sources", "features", "consumers"):
        key = {item["name"]: item for item in small.spec[section]}
        assert {item["name"]: item for item in merged[section]} == key
    validated = load_spec([tmp_path / "catalog"])  # the product's own validation path
    for section in ("teams", "sources", "features", "consumers"):
        assert set(validated.of(section)) == {item["name"] for item in small.spec[section]}
    assert pd.read_parquet(tmp_path / "snapshot.parquet").equals(small.snapshot)
    assert len((tmp_path / "usage.jsonl").read_text().splitlines()) == len(small.usage)
    assert len(pd.read_csv(tmp_path / "importance.csv")) == len(small.importance)
    assert read_truth(tmp_path / "truth.json") == small.truth


def test_spec_is_internally_consistent(world: World) -> None:
    spec = world.spec
    names = {section: [item["name"] for item in spec[section]] for section in spec}
    for section, items in names.items():
        assert len(items) == len(set(items)), section
        assert all(NAME.match(name) for name in items), section
    teams, sources = set(names["teams"]), set(names["sources"])
    features, consumers = features_by_name(world), set(names["consumers"])
    assert len(teams) >= 5 and all(s["owner"] in teams for s in spec["sources"])
    assert {s["kind"] for s in spec["sources"]} == {"table", "stream", "file", "api",
                                                     "model_output"}
    produced = {(c["name"], s) for c in spec["consumers"] for s in c.get("produces", [])}
    outputs = {(s["produced_by"], s["name"]) for s in spec["sources"]
               if s["kind"] == "model_output"}
    assert produced == outputs and {c for c, _ in outputs} <= consumers
    graph = nx.DiGraph()
    for feature in features.values():
        assert feature["owner"] in teams
        assert feature["dtype"] in ("int", "float", "bool", "string", "category", "timestamp",
                                    "vector")
        assert feature["status"] in ("active", "deprecated")
        assert bool(feature.get("sources")) != bool(feature.get("depends_on"))
        assert set(feature.get("sources", [])) <= sources
        for parent in feature.get("depends_on", []):
            assert features[parent]["created"] <= feature["created"]
            graph.add_edge(parent, feature["name"])
        assert feature["created"] <= world.now.date()
        if feature["status"] == "deprecated":
            assert feature["sunset"] and feature["replacement"] in features
    assert nx.is_directed_acyclic_graph(graph) and nx.dag_longest_path_length(graph) >= 2
    for consumer in spec["consumers"]:
        assert consumer["owner"] in teams and consumer["features"]
        assert set(consumer["features"]) <= set(features)
    assert {c["kind"] for c in spec["consumers"]} == {"model", "service", "job", "dashboard",
                                                       "notebook"}
    assert world.snapshot_consumer in consumers
    assert sum(1 for f in features.values() if f.get("bundle")) >= 7


def test_snapshot_has_one_column_per_numeric_or_categorical_feature(world: World) -> None:
    expected = {f["name"] for f in world.spec["features"]
                if f["dtype"] in NUMERIC + ("category",)}
    assert set(world.snapshot.columns) == expected | {"label"}
    assert set(world.snapshot["label"].unique()) == {0, 1}


# -- the planted debts, recomputed from the evidence --------------------------------------------
def test_planted_correlations_are_strong_and_nothing_else_reaches_point_eight(
        world: World) -> None:
    truth = world.truth
    groups = nx.Graph()
    groups.add_edges_from(truth["correlated_keeper"].items())
    planted = {frozenset((a, b)) for group in nx.connected_components(groups)
               for a in group for b in group if a < b}
    assert planted <= correlated_pairs(world, 0.97)
    assert correlated_pairs(world, 0.8) == planted


def test_correlated_keepers_follow_hops_then_importance(world: World) -> None:
    hops, shares = lineage_hops(world), report_shares(world)
    best_share = shares.groupby("feature").share.max()
    groups = nx.Graph()
    groups.add_edges_from(world.truth["correlated_keeper"].items())
    expected = {}
    for group in nx.connected_components(groups):
        ranked = sorted(group, key=lambda f: (hops[f], -best_share.get(f, np.nan)))
        first, second = ranked[:2]
        assert hops[first] < hops[second] or best_share[first] >= 2 * best_share[second]
        expected.update({f: first for f in group if f != first})
    assert expected == world.truth["correlated_keeper"]
    assert world.truth["correlated"] == set(expected)
    assert any(hops[f] > hops[k] and best_share.get(f, 0) > best_share.get(k, 0)
               for f, k in expected.items()), "hops must override importance somewhere"


def test_importance_shares_have_wide_margins(world: World) -> None:
    shares, truth = report_shares(world), world.truth
    low = truth["epsilon"] | truth["bundled"] | {
        f for f, why in truth["legacy_reason"].items() if why == "superseded"}
    for (_, _), report in shares.groupby(["consumer", "ts"]):
        assert report.share.sum() == pytest.approx(1.0)
        for feature, share in zip(report.feature, report.share, strict=True):
            assert share < 0.006 or share >= 0.03, feature
    best = shares.groupby("feature").share.max()
    low &= set(best.index)
    reported_low = {f for f, s in best.items() if s < 0.01}
    group_case = {f for f in reported_low
                  if best.get(truth["correlated_keeper"].get(f), 0) > 0.03} - low
    assert group_case, "a low-share feature whose correlated partner carries the importance"
    assert reported_low == low | group_case


def test_latest_report_is_a_day_old_and_history_exists(world: World) -> None:
    stamps = sorted({datetime.fromisoformat(row["ts"]) for row in world.importance})
    assert stamps[-1] == world.now - timedelta(hours=20) and len(stamps) == 2


def test_legacy_matches_reads_created_and_supersession(world: World) -> None:
    features, truth, frame = features_by_name(world), world.truth, reads(world)
    assert frame.ts.max() < world.now and frame.ts.min() >= world.now - timedelta(days=121)
    recent = set(frame[frame.ts >= world.now - timedelta(days=90)].feature)
    settled = {n for n, f in features.items() if f["created"] <= (world.now - timedelta(30)).date()}
    dead = settled - recent
    assert dead == {f for f, why in truth["legacy_reason"].items() if why == "dead"}
    assert truth["new_unread"] <= set(features) - recent - settled
    assert set(features) - recent == dead | truth["new_unread"]
    created = {n: pd.Timestamp(f["created"], tz="UTC") for n, f in features.items()}
    assert (frame.ts >= frame.feature.map(created)).all()
    shares = report_shares(world).groupby("feature").share.max()
    pairs = correlated_pairs(world, 0.95)
    superseded = {old for pair in pairs for old in pair for new in pair - {old}
                  if shares.get(old, 1) < 0.01 and shares.get(new, 0) >= 0.03
                  and features[new]["created"] > features[old]["created"]}
    assert superseded == {f for f, why in truth["legacy_reason"].items() if why == "superseded"}
    assert truth["legacy"] == set(truth["legacy_reason"])


def test_bundled_and_epsilon_follow_the_definitions(world: World) -> None:
    features, truth = features_by_name(world), world.truth
    best = report_shares(world).groupby("feature").share.max()
    bundles: dict[str, list[str]] = defaultdict(list)
    for name, feature in features.items():
        if feature.get("bundle"):
            bundles[feature["bundle"]].append(name)
    bundled = {f for members in bundles.values() if len(members) >= 3
               and any(best[m] >= 0.03 for m in members) for f in members if best[f] < 0.01}
    assert bundled == truth["bundled"] and len(bundles) > 1
    assert truth["bundle_of"] == {f: features[f]["bundle"] for f in bundled}
    in_bundle = {f for members in bundles.values() for f in members}
    carried = {f for f, keeper in truth["correlated_keeper"].items() if best.get(keeper, 0) > 0.01}
    reported = {f for f, s in best.items() if s < 0.01} - in_bundle - truth["legacy"] - carried
    label = world.snapshot["label"]
    computed = {f for f in declared(world)[world.snapshot_consumer]
                if abs(world.snapshot[f].corr(label)) < 0.05}
    for name in declared(world)[world.snapshot_consumer] - computed:
        assert abs(world.snapshot[name].corr(label)) > 0.1
    assert reported | computed == truth["epsilon"] and len(computed) == 2
    assert not any(world.snapshot_consumer == row["consumer"] for row in world.importance)


def test_undeclared_deprecated_undocumented_and_healthy_reads(world: World) -> None:
    features, truth, frame = features_by_name(world), world.truth, reads(world)
    decl = declared(world)
    undeclared: dict[str, set[str]] = defaultdict(set)
    for principal, feature in zip(frame.principal, frame.feature, strict=True):
        if feature not in decl.get(principal, set()):
            undeclared[principal].add(feature)
    assert dict(undeclared) == truth["undeclared_reads"]
    assert truth["undeclared_consumer"] == set(undeclared)
    assert truth["undeclared_consumer"] - set(decl), "an unregistered principal"
    assert truth["undeclared_consumer"] & set(decl), "a registered consumer"
    deprecated = {n for n, f in features.items() if f["status"] == "deprecated"}
    assert deprecated == truth["deprecated_in_use"] and deprecated <= set(frame.feature)
    assert truth["undocumented"] == {n for n, f in features.items() if not f.get("description")}
    recent = frame[frame.ts >= world.now - timedelta(days=7)]
    read_by_declarer = {f for p, f in zip(recent.principal, recent.feature, strict=True)
                        if f in decl.get(p, set())}
    assert set(features) - read_by_declarer == truth["legacy"] - {
        f for f, why in truth["legacy_reason"].items() if why == "superseded"} | truth[
        "new_unread"]


def test_feedback_loops_are_exactly_the_planted_cycles(world: World) -> None:
    graph = nx.DiGraph()
    for consumer in world.spec["consumers"]:
        node = ("consumer", consumer["name"])
        graph.add_edges_from((node, ("source", s)) for s in consumer.get("produces", []))
        graph.add_edges_from((("feature", f), node) for f in consumer["features"])
    for feature in world.spec["features"]:
        node = ("feature", feature["name"])
        graph.add_edges_from((("source", s), node) for s in feature.get("sources", []))
        graph.add_edges_from((("feature", p), node) for p in feature.get("depends_on", []))
    cycles = set()
    for cycle in nx.simple_cycles(graph):
        names = [name for kind, name in cycle if kind == "consumer"]
        start = names.index(min(names))
        cycles.add(tuple(names[start:] + names[:start]))
    assert cycles == world.truth["feedback_loop"]
    assert {len(c) for c in cycles} >= {1, 2}


def test_underutilized_sources_carry_only_useless_features(world: World) -> None:
    truth = world.truth
    useless = truth["legacy"] | truth["bundled"] | truth["epsilon"]
    built_on: dict[str, set[str]] = defaultdict(set)
    for feature in world.spec["features"]:
        for source in feature.get("sources", []):
            built_on[source].add(feature["name"])
    assert set(built_on) == {s["name"] for s in world.spec["sources"]}
    assert {s for s, names in built_on.items() if names <= useless} == truth[
        "underutilized_source"]


def test_every_kind_is_planted_several_times_at_scale(large: World) -> None:
    counts = {kind: len(large.truth[kind]) for kind in FINDING_KINDS}
    print(counts)
    assert all(count >= 5 for kind, count in counts.items() if kind != "underutilized_source")
    assert counts["underutilized_source"] >= 3
    assert len(large.usage) == 35000 and large.snapshot.shape[0] == 10000
    assert len(large.spec["features"]) == 400 and len(large.spec["consumers"]) == 40
    forms = {key for line in large.usage for key in line}
    assert forms == {"ts", "consumer", "feature", "features", "count"}
    assert {line["ts"][-1] for line in large.usage} >= {"Z", "0"}


def test_too_small_worlds_are_refused() -> None:
    with pytest.raises(ValueError, match="n_features"):
        generate_world(n_features=40)
    with pytest.raises(ValueError, match="n_consumers"):
        generate_world(n_consumers=8)
    with pytest.raises(ValueError, match="n_teams"):
        generate_world(n_teams=3)


def test_committed_seeds_are_what_the_generator_writes(tmp_path: Path) -> None:
    main(["--out", str(tmp_path), "--seed", "0"])
    for path in sorted(tmp_path.rglob("*.*")):
        relative = path.relative_to(tmp_path)
        if path.suffix == ".parquet":
            assert pd.read_parquet(SEEDS / relative).equals(pd.read_parquet(path))
        else:
            assert (SEEDS / relative).read_bytes() == path.read_bytes(), relative
    assert (SEEDS / "snapshot.parquet").stat().st_size < 3_000_000


# --- registry.synthetic.scale: an organisation at a chosen scale (benchmarks) ---


def test_scale_catalog_has_the_exact_edges_and_a_valid_spec(tmp_path: Path) -> None:
    from registry.evidence.usage_events import validate_item
    from registry.synthetic.scale import generate_catalog, write_organisation

    catalog = generate_catalog(features=2_000, edges=6_000, consumers=50, hub_dependents=200)
    assert sum(catalog.edge_counts().values()) == 6_000
    assert catalog.object_counts()["features"] == 2_000
    assert catalog.object_counts()["consumers"] == 50
    written = write_organisation(catalog, tmp_path, days=5)
    spec = load_spec([tmp_path / "catalog"])
    assert not spec.problems
    assert len(spec.features) == 2_000
    lines = (tmp_path / "usage.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == written["usage_lines"] > 0
    events = [validate_item(yaml.safe_load(line)) for line in lines]
    assert not [e for e in events if isinstance(e, str)]
    days = {e.ts.date() for e in events if not isinstance(e, str) and hasattr(e, "ts")}
    assert len(days) == 5
    assert sum(len(e.features) for e in events if hasattr(e, "features")) == written[
        "rollup_rows"]
    header = (tmp_path / "importance.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "consumer,feature,importance,method,metric,ts"


def test_scale_hub_has_exactly_its_dependents() -> None:
    from registry.synthetic.scale import generate_catalog

    catalog = generate_catalog(features=1_000, edges=3_000, consumers=30, hub_dependents=100)
    graph = nx.DiGraph()
    for feature in catalog.spec["features"]:
        graph.add_node(feature["name"])
        graph.add_edges_from((d, feature["name"]) for d in feature["depends_on"])
    assert len(nx.descendants(graph, catalog.hub)) == 100
    assert nx.is_directed_acyclic_graph(graph)


def test_scale_generation_is_deterministic_and_changes_are_counted() -> None:
    from registry.synthetic.scale import generate_catalog, spec_documents, with_changes

    def documents(seed: int) -> list[tuple[str, str]]:
        return list(spec_documents(generate_catalog(features=600, edges=1_800, consumers=20,
                                                    hub_dependents=50, seed=seed).spec))

    assert documents(3) == documents(3)
    assert documents(3) != documents(4)
    catalog = generate_catalog(features=600, edges=1_800, consumers=20, hub_dependents=50)
    changed = with_changes(catalog, 100)
    assert len(changed["features"]) == 620
    before = {f["name"]: f for f in catalog.spec["features"]}
    edited = [f for f in changed["features"] if f["name"] in before and f != before[f["name"]]]
    assert len(edited) == 80


def test_scale_refuses_too_few_edges() -> None:
    from registry.synthetic.scale import generate_catalog

    with pytest.raises(ValueError, match="too few depends_on edges"):
        generate_catalog(features=1_000, edges=1_500, consumers=30, hub_dependents=100)
