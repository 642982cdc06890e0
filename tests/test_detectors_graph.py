"""Graph detectors: feedback loops and underutilized sources; the detector pipeline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx

from registry.analysis.detectors import DETECTORS, KINDS, run_detectors
from registry.analysis.detectors.feedback_loop import FeedbackLoopDetector
from registry.analysis.detectors.underutilized_source import UnderutilizedSourceDetector
from registry.analysis.graph import feedback_cycles
from registry.analysis.inputs import (
    AnalysisInput,
    ConsumerInfo,
    FeatureInfo,
    ImportanceValue,
    ReadStat,
    SourceInfo,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def feature(name: str, **fields: Any) -> FeatureInfo:
    fields.setdefault("description", "documented")
    return FeatureInfo(name=name, created=NOW - timedelta(days=365), **fields)


def loops_input() -> AnalysisInput:
    """ctr reads a feature built on its own scores (direct loop); a → b → c → a (hidden)."""
    return AnalysisInput.build(
        now=NOW,
        features=[
            feature("clicks", sources=("warehouse.clicks",)),
            feature("ctr_score", sources=("ctr.scores",)),
            feature("a_out", sources=("a.scores",)),
            feature("a_out_smoothed", depends_on=("a_out",)),
            feature("b_out", sources=("b.scores",)),
            feature("c_out", sources=("c.scores",)),
        ],
        sources=[SourceInfo(name="warehouse.clicks"),
                 SourceInfo(name="ctr.scores", kind="model_output", produced_by="ctr"),
                 SourceInfo(name="a.scores", kind="model_output", produced_by="model_a"),
                 SourceInfo(name="b.scores", kind="model_output"),
                 SourceInfo(name="c.scores", kind="model_output")],
        consumers=[
            ConsumerInfo(name="ctr", features=("clicks", "ctr_score")),
            ConsumerInfo(name="model_b", features=("a_out_smoothed",), produces=("b.scores",)),
            ConsumerInfo(name="model_c", features=("b_out",), produces=("c.scores",)),
            ConsumerInfo(name="model_a", features=("c_out", "clicks")),
            ConsumerInfo(name="dashboard", kind="dashboard", features=("ctr_score", "a_out")),
        ],
    )


def test_direct_and_hidden_feedback_loops() -> None:
    found = FeedbackLoopDetector().run(loops_input())
    assert [(f.subject_name, f.evidence["length"], f.evidence["hidden"]) for f in found] == [
        ("ctr", 1, False), ("model_a", 3, True)]
    direct, hidden = found
    assert [step["name"] for step in direct.evidence["cycle"]] == [
        "ctr", "ctr.scores", "ctr_score"]
    assert [step["name"] for step in hidden.evidence["cycle"]] == [
        "model_a", "a.scores", "a_out", "a_out_smoothed", "model_b", "b.scores", "b_out",
        "model_c", "c.scores", "c_out"]
    assert ("consumer", "model_a") not in hidden.related
    assert ("consumer", "model_b") in hidden.related and ("feature", "a_out") in hidden.related
    assert "model_b, model_c" in hidden.summary


def test_loop_identity_does_not_depend_on_where_enumeration_starts() -> None:
    inp = loops_input()
    renamed = AnalysisInput.build(
        now=NOW, features=reversed(list(inp.features.values())),
        sources=reversed(list(inp.sources.values())),
        consumers=reversed(list(inp.consumers.values())))
    assert [f.fingerprint for f in FeedbackLoopDetector().run(inp)] == [
        f.fingerprint for f in FeedbackLoopDetector().run(renamed)]


def test_every_cycle_of_a_random_catalog_is_found() -> None:
    rng = random.Random(3)
    consumers = [f"m{i}" for i in range(8)]
    sources = [SourceInfo(name=f"{c}.out", produced_by=c) for c in consumers]
    features = [feature(f"f{i}", sources=(f"{rng.choice(consumers)}.out",)) for i in range(10)]
    declared = [ConsumerInfo(name=c, features=tuple(rng.sample([f.name for f in features], 2)))
                for c in consumers]
    inp = AnalysisInput.build(now=NOW, features=features, sources=sources, consumers=declared)
    reference = [c for c in nx.simple_cycles(inp.graph)]
    cycles = feedback_cycles(inp.graph)
    assert len(cycles) == len(reference) > 3
    assert {frozenset(c) for c in cycles} == {frozenset(c) for c in reference}
    evidence_cycles = sum(1 + len(f.evidence["other_cycles"])
                          for f in FeedbackLoopDetector().run(inp))
    assert evidence_cycles == len(reference)


# ----- underutilized sources ------------------------------------------------------------------

def sources_input() -> AnalysisInput:
    """old_feed: both features dead; mixed: one useful feature; derived_only: its only direct
    feature is worthless but a derived feature built on it is valuable."""
    features = [
        feature("old_1", sources=("old_feed",)), feature("old_2", sources=("old_feed",)),
        feature("mixed_dead", sources=("mixed",)), feature("mixed_good", sources=("mixed",)),
        feature("base", sources=("derived_only",)), feature("rich", depends_on=("base",)),
        feature("filler"),
    ]
    live = ["mixed_good", "base", "rich", "mixed_dead", "filler"]
    return AnalysisInput.build(
        now=NOW,
        features=features,
        sources=[SourceInfo(name=n) for n in ("old_feed", "mixed", "derived_only", "unused")],
        reads=[ReadStat(principal="m", feature=n, count=3, last_read=NOW - timedelta(days=1))
               for n in live[:-2]],
        importance=[ImportanceValue(consumer="m", feature=n, value=v) for n, v in
                    (("mixed_good", 1.0), ("base", 0.0001), ("rich", 1.0),
                     ("filler", 1.0))],
    )


def test_a_source_is_underutilized_when_every_feature_on_it_is_flagged() -> None:
    inp = sources_input()
    [finding] = UnderutilizedSourceDetector().run(inp)
    assert finding.subject == ("source", "old_feed")
    assert finding.related == (("feature", "old_1"), ("feature", "old_2"))
    assert finding.evidence["features"] == {"old_1": "legacy", "old_2": "legacy"}


def test_the_pipeline_passes_final_findings_to_follow_up_detectors() -> None:
    inp = sources_input()
    findings = run_detectors(inp)
    alone = UnderutilizedSourceDetector().run(inp)
    assert [f for f in findings if f.kind == "underutilized_source"] == alone
    assert [f.kind for f in findings] == sorted((f.kind for f in findings), key=KINDS.index)
    assert len({f.fingerprint for f in findings}) == len(findings)
    assert run_detectors(inp, [UnderutilizedSourceDetector()]) == alone


def test_registry_lists_every_kind_of_the_design_once() -> None:
    assert sorted(KINDS) == sorted([
        "legacy", "bundled", "epsilon", "correlated", "undeclared_consumer", "feedback_loop",
        "deprecated_in_use", "undocumented", "underutilized_source", "unstable_dependency",
        "stale_source",
        "unready_dependency"])
    assert len(DETECTORS) == len(set(KINDS))
