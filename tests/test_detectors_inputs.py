"""The analysis input, finding drafts and the catalog graph helpers."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.analysis.computed_importance import is_noise
from registry.analysis.graph import (
    build_catalog_graph,
    consumer_closure,
    features_built_on,
    lineage_hops,
    node_id,
    parse_node,
)
from registry.analysis.inputs import (
    AnalysisInput,
    ConsumerInfo,
    FeatureInfo,
    FindingDraft,
    GroupImportanceValue,
    ImportanceValue,
    ReadStat,
    SourceInfo,
    as_utc,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def feature(name: str, **fields: object) -> FeatureInfo:
    return FeatureInfo(name=name, created=NOW - timedelta(days=365), **fields)  # type: ignore[arg-type]


# ----- finding drafts -------------------------------------------------------------------------

names = st.text(alphabet="abcxyz_.", min_size=1, max_size=6)
refs = st.lists(st.tuples(st.sampled_from(["feature", "source", "consumer"]), names), max_size=5)


@given(related=refs, evidence=st.dictionaries(names, st.integers()))
def test_fingerprint_ignores_evidence_summary_severity_and_related_order(
    related: list[tuple[str, str]], evidence: dict[str, int]
) -> None:
    base = FindingDraft(kind="epsilon", subject_type="feature", subject_name="f",
                        related=tuple(related), summary="one", severity="info")
    other = FindingDraft(kind="epsilon", subject_type="feature", subject_name="f",
                         related=tuple(reversed(related + related)), summary="two",
                         severity="critical", evidence=evidence)
    assert base.fingerprint == other.fingerprint
    assert list(base.related) == sorted(set(related))


def test_fingerprint_is_sha256_of_kind_subject_and_sorted_related() -> None:
    draft = FindingDraft(kind="correlated", subject_type="feature", subject_name="b",
                         related=(("feature", "z"), ("feature", "a")), summary="s")
    canonical = json.dumps(["correlated", "feature", "b", [["feature", "a"], ["feature", "z"]]],
                           separators=(",", ":"))
    assert draft.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()
    changed = [
        FindingDraft(kind="legacy", subject_type="feature", subject_name="b",
                     related=draft.related, summary="s"),
        FindingDraft(kind="correlated", subject_type="feature", subject_name="c",
                     related=draft.related, summary="s"),
        FindingDraft(kind="correlated", subject_type="feature", subject_name="b",
                     related=(("feature", "a"),), summary="s"),
    ]
    assert len({draft.fingerprint, *(d.fingerprint for d in changed)}) == 4


def test_a_draft_rejects_bad_severity_multiline_summary_and_nan_evidence() -> None:
    with pytest.raises(ValueError, match="severity"):
        FindingDraft(kind="k", subject_type="feature", subject_name="f", summary="s",
                     severity="fatal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one line"):
        FindingDraft(kind="k", subject_type="feature", subject_name="f", summary="a\nb")
    with pytest.raises(ValueError):
        FindingDraft(kind="k", subject_type="feature", subject_name="f", summary="s",
                     evidence={"r": float("nan")})


def test_to_dict_has_the_design_json_shape() -> None:
    draft = FindingDraft(kind="undeclared_consumer", subject_type="consumer", subject_name="m",
                         related=(("feature", "f"),), summary="s", evidence={"x": 1})
    data = draft.to_dict()
    assert data["subject"] == {"type": "consumer", "name": "m"}
    assert data["related"] == [{"type": "feature", "name": "f"}]
    assert json.loads(json.dumps(data)) == data


# ----- times and usage ------------------------------------------------------------------------

def test_times_are_normalised_to_utc() -> None:
    assert as_utc(datetime(2026, 1, 1, 10)) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert as_utc(date(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert as_utc(datetime(2026, 1, 1, 10, tzinfo=plus_two)).hour == 8
    info = FeatureInfo(name="f", created=date(2025, 3, 1))
    assert info.created.tzinfo is not None


def test_reads_after_now_and_outside_the_window_do_not_count_as_current() -> None:
    inp = AnalysisInput.build(now=NOW, features=[feature("f")], reads=[
        ReadStat(principal="a", feature="f", count=3, last_read=NOW - timedelta(days=2)),
        ReadStat(principal="b", feature="f", count=0, last_read=NOW - timedelta(days=200)),
        ReadStat(principal="c", feature="f", count=9, last_read=NOW + timedelta(days=1)),
    ])
    assert inp.last_read("f") == NOW - timedelta(days=2)
    assert inp.current_reads("f") == 3
    assert inp.last_read("unknown") is None


# ----- importance -----------------------------------------------------------------------------

def test_shares_match_a_numpy_reference() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(0.5, 1.0, size=(4, 6))
    rows = [ImportanceValue(consumer=f"c{i}", feature=f"f{j}", value=float(values[i, j]))
            for i in range(4) for j in range(6)]
    inp = AnalysisInput.build(now=NOW, importance=rows)
    clipped = np.clip(values, 0, None)
    expected = clipped / clipped.sum(axis=1, keepdims=True)
    for i in range(4):
        for j in range(6):
            assert inp.importance_shares[f"f{j}"][f"c{i}"] == pytest.approx(expected[i, j])
    for j in range(6):
        assert inp.max_share(f"f{j}") == pytest.approx(expected[:, j].max())


def test_latest_report_wins_and_a_zero_total_gives_no_evidence() -> None:
    earlier, later = NOW - timedelta(days=10), NOW - timedelta(days=1)
    inp = AnalysisInput.build(now=NOW, importance=[
        ImportanceValue(consumer="m", feature="a", value=5.0, reported_at=later),
        ImportanceValue(consumer="m", feature="a", value=1.0, reported_at=earlier),
        ImportanceValue(consumer="m", feature="b", value=5.0, reported_at=later),
        ImportanceValue(consumer="z", feature="a", value=0.0),
        ImportanceValue(consumer="z", feature="c", value=-2.0),
    ])
    assert inp.importance_shares["a"] == {"m": 0.5}
    assert inp.max_share("c") is None


@pytest.mark.parametrize(
    ("value", "std", "repeats", "method"),
    [(0.02, 0.05, 5, "permutation-computed"), (0.02, 0.001, 5, "permutation-computed"),
     (0.0005, 0.0, 1, "permutation-computed"), (0.03, 0.02, 4, "leave-one-out")],
)
def test_computed_noise_follows_the_importance_module(
    value: float, std: float, repeats: int, method: str
) -> None:
    inp = AnalysisInput.build(now=NOW)
    settings = inp.settings
    noise = is_noise(value, std, repeats, method=method, k=settings.importance_noise_k,
                     tolerance=settings.importance_noise_floor)
    assert inp.effective_value(value, std, repeats, method) == (0.0 if noise else value)
    assert inp.effective_value(value, None, None) == value  # reported: no noise test


def test_group_share_uses_computed_group_importance() -> None:
    inp = AnalysisInput.build(
        now=NOW,
        importance=[ImportanceValue(consumer="m", feature=n, value=v)
                    for n, v in (("a", 0.001), ("b", 0.001), ("c", 1.0))],
        group_importance=[GroupImportanceValue(consumer="m", members=("b", "a"), value=1.0)],
    )
    assert inp.group_shares(["a"])["m"] == pytest.approx(0.5)


# ----- graph ----------------------------------------------------------------------------------

def catalog() -> tuple[list[FeatureInfo], list[SourceInfo], list[ConsumerInfo]]:
    features = [
        feature("raw_f", sources=("raw",)),
        feature("derived", depends_on=("raw_f",)),
        feature("twice", depends_on=("derived",)),
        feature("scored", sources=("m1.scores",)),
        feature("orphan"),
    ]
    sources = [SourceInfo(name="raw"), SourceInfo(name="m1.scores", produced_by="m1")]
    consumers = [ConsumerInfo(name="m1", features=("raw_f",)),
                 ConsumerInfo(name="m2", features=("scored", "twice"))]
    return features, sources, consumers


def test_graph_edges_follow_the_data_flow() -> None:
    graph = build_catalog_graph(*catalog())
    assert sorted(graph.edges) == sorted([
        ("source:raw", "feature:raw_f"), ("feature:raw_f", "feature:derived"),
        ("feature:derived", "feature:twice"), ("source:m1.scores", "feature:scored"),
        ("feature:raw_f", "consumer:m1"), ("consumer:m1", "source:m1.scores"),
        ("feature:scored", "consumer:m2"), ("feature:twice", "consumer:m2"),
    ])
    assert parse_node(node_id("feature", "a:b")) == ("feature", "a:b")


def test_lineage_hops_match_networkx_shortest_paths() -> None:
    graph = build_catalog_graph(*catalog())
    hops = lineage_hops(graph)
    lineage = graph.subgraph(n for n in graph if not n.startswith("consumer:"))
    for name in ("raw_f", "derived", "twice", "scored"):
        expected = min(nx.shortest_path_length(lineage, s, f"feature:{name}")
                       for s in ("source:raw", "source:m1.scores")
                       if nx.has_path(lineage, s, f"feature:{name}"))
        assert hops[name] == expected
    assert "orphan" not in hops
    assert features_built_on(graph, "raw") == ["derived", "raw_f", "twice"]


def test_closure_of_a_consumer_reaches_through_other_models() -> None:
    closure = consumer_closure(build_catalog_graph(*catalog()), "m2")
    assert closure.features == ("derived", "raw_f", "scored", "twice")
    assert closure.sources == ("m1.scores", "raw")
    assert closure.consumers == ("m1",)
    with pytest.raises(KeyError):
        consumer_closure(build_catalog_graph(*catalog()), "nobody")
