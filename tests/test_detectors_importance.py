"""Detectors driven by importance: bundled, epsilon, and the legacy > bundled > epsilon rule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.analysis.detectors import apply_precedence, run_detectors
from registry.analysis.detectors.bundled import BundledDetector
from registry.analysis.detectors.correlated import CorrelatedDetector
from registry.analysis.detectors.epsilon import EpsilonDetector
from registry.analysis.inputs import (
    AnalysisInput,
    ConsumerInfo,
    CorrelatedPair,
    FeatureInfo,
    FindingDraft,
    GroupImportanceValue,
    ImportanceValue,
    ReadStat,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
WORTHLESS = 0.0001
USEFUL = 1.0


def feature(name: str, **fields: Any) -> FeatureInfo:
    fields.setdefault("description", f"What {name} measures.")
    fields.setdefault("changeset", 1)
    return FeatureInfo(name=name, created=NOW - timedelta(days=365), **fields)


def world(
    features: list[FeatureInfo],
    importance: dict[str, float],
    *,
    correlations: list[CorrelatedPair] | None = None,
    computed: dict[str, tuple[float, float, int]] | None = None,
    group_importance: list[GroupImportanceValue] | None = None,
    unread: tuple[str, ...] = (),
) -> AnalysisInput:
    """Every feature read and declared by model ``m``; importance given per feature name.

    Change set 1 stands for a bulk import of 400 features (no bundle).
    """
    rows = [ImportanceValue(consumer="m", feature=n, value=v) for n, v in importance.items()]
    for name, (value, std, repeats) in (computed or {}).items():
        rows.append(ImportanceValue(consumer="m", feature=name, value=value, std=std,
                                    repeats=repeats, method="permutation-computed"))
    names = [f.name for f in features]
    return AnalysisInput.build(
        now=NOW,
        features=features,
        consumers=[ConsumerInfo(name="m", features=tuple(names))],
        reads=[ReadStat(principal="m", feature=n, count=10, last_read=NOW - timedelta(days=1))
               for n in names if n not in unread],
        importance=rows,
        group_importance=group_importance or [],
        correlations=correlations or [],
        changeset_sizes={**Counter(f.changeset for f in features if f.changeset), 1: 400},
    )


def subjects(findings: list[FindingDraft], kind: str | None = None) -> list[str]:
    return sorted(f.subject_name for f in findings if kind is None or f.kind == kind)


# ----- bundled --------------------------------------------------------------------------------

def test_explicit_bundle_members_that_add_nothing_are_bundled() -> None:
    members = [feature(f"launch_{i}", bundle="ctr-launch") for i in range(5)]
    inp = world(members + [feature("core")],
                {"launch_0": USEFUL, "launch_1": 0.5, "launch_2": WORTHLESS,
                 "launch_3": WORTHLESS, "core": USEFUL})  # launch_4: no evidence
    found = BundledDetector().run(inp)
    assert subjects(found) == ["launch_2", "launch_3"]
    assert found[0].related == (("feature", "launch_0"), ("feature", "launch_1"))
    assert found[0].evidence["bundle"] == "ctr-launch"
    assert found[0].evidence["valuable_members"] == ["launch_0", "launch_1"]


def test_a_change_set_of_two_to_fifty_features_is_a_bundle_but_a_bulk_import_is_not() -> None:
    batch = [feature(f"batch_{i}", changeset=7) for i in range(4)]
    bulk = [feature(f"bulk_{i}", changeset=8) for i in range(60)]
    importance = {f.name: WORTHLESS for f in batch + bulk}
    importance.update({"batch_0": USEFUL, "bulk_0": USEFUL})
    inp = world(batch + bulk, importance)
    assert inp.changeset_sizes[8] == 60
    findings = run_detectors(inp)
    assert subjects(findings, "bundled") == ["batch_1", "batch_2", "batch_3"]
    assert subjects(findings, "epsilon") == sorted(f"bulk_{i}" for i in range(1, 60))
    [bundled] = [f for f in findings if f.subject_name == "batch_1"]
    assert bundled.evidence["changeset"] == 7 and bundled.evidence["bundle_origin"] == "changeset"


def test_small_bundles_and_members_without_evidence_are_not_bundled() -> None:
    pair = [feature("p_0", bundle="pair"), feature("p_1", bundle="pair")]
    inp = world(pair, {"p_0": USEFUL, "p_1": WORTHLESS})
    assert BundledDetector().run(inp) == []
    assert subjects(EpsilonDetector().run(inp)) == ["p_1"]  # a bundle of two is no bundle


# ----- epsilon --------------------------------------------------------------------------------

def test_epsilon_needs_importance_evidence() -> None:
    inp = world([feature("a"), feature("b"), feature("tiny"), feature("silent")],
                {"a": USEFUL, "b": USEFUL, "tiny": WORTHLESS})
    found = EpsilonDetector().run(inp)
    assert subjects(found) == ["tiny"]
    assert found[0].evidence["max_share"] < 0.01


def test_epsilon_takes_the_largest_share_over_all_consumers() -> None:
    inp = AnalysisInput.build(
        now=NOW, features=[feature("a"), feature("b"), feature("niche")],
        importance=[ImportanceValue(consumer="big", feature="a", value=1.0),
                    ImportanceValue(consumer="big", feature="niche", value=WORTHLESS),
                    ImportanceValue(consumer="small", feature="b", value=1.0),
                    ImportanceValue(consumer="small", feature="niche", value=0.5)])
    assert EpsilonDetector().run(inp) == []


def test_computed_importance_within_noise_counts_as_zero() -> None:
    base = {"a": USEFUL, "b": USEFUL}
    noisy = world([feature("a"), feature("b"), feature("c")], base,
                  computed={"c": (0.05, 0.2, 5)})
    clear = world([feature("a"), feature("b"), feature("c")], base,
                  computed={"c": (0.05, 0.001, 5)})
    [finding] = EpsilonDetector().run(noisy)
    assert finding.evidence["noise_as_zero"] == ["m"] and finding.evidence["max_share"] == 0
    assert EpsilonDetector().run(clear) == []


def test_a_redundant_feature_is_correlated_not_epsilon() -> None:
    features = [feature("ctr"), feature("ctr_copy"), feature("other")]
    pair = [CorrelatedPair("ctr", "ctr_copy", 0.99, 0.99, 1000)]
    inp = world(features, {"ctr": USEFUL, "ctr_copy": WORTHLESS, "other": USEFUL},
                correlations=pair)
    findings = run_detectors(inp)
    assert [(f.kind, f.subject_name) for f in findings] == [("correlated", "ctr_copy")]


def test_a_computed_group_importance_makes_a_cluster_redundant_not_useless() -> None:
    features = [feature("x1"), feature("x2"), feature("other")]
    computed = {"x1": (0.0001, 0.01, 5), "x2": (0.0001, 0.01, 5), "other": (0.3, 0.01, 5)}
    group = [GroupImportanceValue(consumer="m", members=("x1", "x2"), value=0.2, std=0.01,
                                  repeats=5)]
    pair = [CorrelatedPair("x1", "x2", 0.98, 0.97, 1000)]
    with_group = world(features, {}, computed=computed, group_importance=group)
    assert EpsilonDetector().run(with_group) == []
    without_group = world(features, {}, computed=computed, correlations=pair)
    assert subjects(EpsilonDetector().run(without_group)) == ["x1", "x2"]


def test_a_feature_both_correlated_and_epsilon() -> None:
    features = [feature("dup_a", sources=("raw",)), feature("dup_b", depends_on=("dup_a",)),
                feature("other")]
    pair = [CorrelatedPair("dup_a", "dup_b", 0.99, 0.99, 1000)]
    inp = world(features, {"dup_a": WORTHLESS, "dup_b": WORTHLESS, "other": USEFUL},
                correlations=pair)
    findings = run_detectors(inp)
    assert subjects(findings, "epsilon") == ["dup_a", "dup_b"]  # the cluster carries nothing
    assert subjects(findings, "correlated") == ["dup_b"]
    assert CorrelatedDetector().run(inp)[0].related == (("feature", "dup_a"),)


# ----- precedence -----------------------------------------------------------------------------

def test_legacy_beats_bundled_beats_epsilon() -> None:
    members = [feature(f"b_{i}", bundle="launch") for i in range(4)]
    inp = world(members + [feature("alone"), feature("dead_alone")],
                {"b_0": USEFUL, "b_1": WORTHLESS, "b_2": WORTHLESS, "b_3": WORTHLESS,
                 "alone": WORTHLESS, "dead_alone": WORTHLESS},
                unread=("b_1", "dead_alone"))
    findings = run_detectors(inp)
    exclusive = {(f.kind, f.subject_name) for f in findings
                 if f.kind in ("legacy", "bundled", "epsilon")}
    assert exclusive == {("legacy", "b_1"), ("bundled", "b_2"), ("bundled", "b_3"),
                         ("epsilon", "alone"), ("legacy", "dead_alone")}


def test_apply_precedence_keeps_other_kinds_and_order() -> None:
    def draft(kind: str, name: str) -> FindingDraft:
        return FindingDraft(kind=kind, subject_type="feature", subject_name=name, summary=kind)

    given = [draft("epsilon", "f"), draft("correlated", "f"), draft("bundled", "f"),
             draft("epsilon", "g"), draft("legacy", "f"), draft("bundled", "h")]
    kept = apply_precedence(given)
    assert [(d.kind, d.subject_name) for d in kept] == [
        ("correlated", "f"), ("epsilon", "g"), ("legacy", "f"), ("bundled", "h")]
