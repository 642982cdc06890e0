"""Detectors driven by usage and declarations: legacy, undeclared_consumer, deprecated_in_use,
undocumented."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from registry.analysis.detectors.deprecated_in_use import DeprecatedInUseDetector
from registry.analysis.detectors.legacy import LegacyDetector
from registry.analysis.detectors.undeclared_consumer import UndeclaredConsumerDetector
from registry.analysis.detectors.undocumented import UndocumentedDetector
from registry.analysis.inputs import (
    AnalysisInput,
    ConsumerInfo,
    CorrelatedPair,
    FeatureInfo,
    FindingDraft,
    ImportanceValue,
    ReadStat,
)
from registry.core.settings import Settings

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def feature(name: str, *, age: float = 365, **fields: Any) -> FeatureInfo:
    fields.setdefault("description", f"What {name} measures.")
    return FeatureInfo(name=name, created=ago(age), **fields)


def read(principal: str, name: str, *, age: float = 1, count: int = 5) -> ReadStat:
    window = Settings().usage_window_days
    return ReadStat(principal=principal, feature=name, last_read=ago(age),
                    count=count if age <= window else 0)


def by_subject(findings: list[FindingDraft]) -> dict[str, FindingDraft]:
    return {f.subject_name: f for f in findings}


# ----- legacy: dead ---------------------------------------------------------------------------

def test_dead_features_are_legacy_after_the_grace_period_only() -> None:
    inp = AnalysisInput.build(
        now=NOW,
        features=[feature("never_read"), feature("read_long_ago"), feature("read_recently"),
                  feature("created_yesterday", age=1), feature("in_grace", age=29),
                  feature("just_past_grace", age=31),
                  feature("old_retired", status="retired"),
                  feature("old_deprecated", status="deprecated")],
        consumers=[ConsumerInfo(name="m", features=("never_read", "read_recently"))],
        reads=[read("m", "read_long_ago", age=91), read("m", "read_recently", age=89)],
    )
    found = by_subject(LegacyDetector().run(inp))
    assert sorted(found) == ["just_past_grace", "never_read", "old_deprecated", "read_long_ago"]
    assert found["read_long_ago"].evidence["last_read"] == ago(91).isoformat()
    assert found["read_long_ago"].evidence["reason"] == "dead"
    assert found["never_read"].evidence["last_read"] is None
    assert found["never_read"].related == ()
    assert "since" in found["read_long_ago"].summary


def test_a_consumer_that_declares_but_never_reads_does_not_keep_a_feature_alive() -> None:
    inp = AnalysisInput.build(
        now=NOW, features=[feature("declared_only")],
        consumers=[ConsumerInfo(name="ctr_model", features=("declared_only",))],
    )
    [finding] = LegacyDetector().run(inp)
    assert finding.evidence["declared_by"] == ["ctr_model"]
    assert UndeclaredConsumerDetector().run(inp) == []


def test_the_window_follows_the_settings_and_now() -> None:
    features = [feature("f")]
    reads = [read("m", "f", age=40)]
    assert LegacyDetector().run(AnalysisInput.build(now=NOW, features=features, reads=reads)) == []
    short = Settings(legacy_window_days=30)
    assert LegacyDetector().run(
        AnalysisInput.build(now=NOW, settings=short, features=features, reads=reads))
    earlier = AnalysisInput.build(now=ago(60), features=[feature("f", age=300)], reads=reads)
    [finding] = LegacyDetector().run(earlier)  # seen from then, the read has not happened yet
    assert finding.evidence["last_read"] is None


# ----- legacy: superseded ---------------------------------------------------------------------

def superseded_input(old_share_value: float, *, new_age: float = 100,
                     r: float = 0.97) -> AnalysisInput:
    return AnalysisInput.build(
        now=NOW,
        features=[feature("clicks_v1", age=400), feature("clicks_v2", age=new_age),
                  feature("other")],
        reads=[read("m", n) for n in ("clicks_v1", "clicks_v2", "other")],
        importance=[ImportanceValue(consumer="m", feature="clicks_v1", value=old_share_value),
                    ImportanceValue(consumer="m", feature="clicks_v2", value=0.6),
                    ImportanceValue(consumer="m", feature="other", value=0.4)],
        correlations=[CorrelatedPair("clicks_v2", "clicks_v1", None, r, 5000)],
    )


def test_an_older_feature_is_superseded_by_a_newer_correlated_one() -> None:
    [finding] = LegacyDetector().run(superseded_input(0.001))
    assert finding.subject_name == "clicks_v1"
    assert finding.related == (("feature", "clicks_v2"),)
    assert finding.evidence["reason"] == "superseded"
    [newer] = finding.evidence["superseded_by"]
    assert newer["spearman"] == 0.97 and newer["n"] == 5000


def test_no_supersession_without_every_condition() -> None:
    assert LegacyDetector().run(superseded_input(0.05)) == []  # the old one still matters
    assert LegacyDetector().run(superseded_input(0.001, new_age=400)) == []  # not newer
    assert LegacyDetector().run(superseded_input(0.001, r=0.9)) == []  # not correlated enough


def test_dead_wins_over_superseded_and_keeps_the_newer_feature_in_evidence() -> None:
    inp = superseded_input(0.001)
    unread = AnalysisInput.build(
        now=NOW, features=list(inp.features.values()),
        reads=[r for r in inp.reads if r.feature != "clicks_v1"],
        importance=inp.importance, correlations=inp.correlations)
    [finding] = LegacyDetector().run(unread)
    assert finding.evidence["reason"] == "dead" and finding.related == ()
    assert finding.evidence["superseded_by"][0]["feature"] == "clicks_v2"


# ----- undeclared consumers -------------------------------------------------------------------

def undeclared_input() -> AnalysisInput:
    return AnalysisInput.build(
        now=NOW,
        features=[feature("a"), feature("b"), feature("old", status="deprecated"),
                  feature("gone", status="retired")],
        consumers=[ConsumerInfo(name="m1", features=("a",)),
                   ConsumerInfo(name="m2", features=("a",)),
                   ConsumerInfo(name="m3", features=("a",)),
                   ConsumerInfo(name="m4", features=("a",))],
        reads=[read("m1", "a"), read("m1", "b", count=7),
               read("m2", "a"), read("m2", "b", age=200),
               read("m3", "old"), read("m4", "gone"), read("m4", "b"),
               read("notebook-42", "a", count=2), read("m1", "not_in_catalog")],
    )


def test_one_finding_per_principal_with_the_undeclared_features() -> None:
    found = by_subject(UndeclaredConsumerDetector().run(undeclared_input()))
    assert sorted(found) == ["m1", "m3", "m4", "notebook-42"]  # m2's read is too old
    assert found["m1"].related == (("feature", "b"),)
    assert found["m1"].evidence["reads"] == [
        {"feature": "b", "count": 7, "last_read": ago(1).isoformat(), "status": "active"}]
    assert found["m4"].related == (("feature", "b"), ("feature", "gone"))
    assert found["notebook-42"].evidence["registered"] is False
    assert all(f.subject_type == "consumer" for f in found.values())


def test_undeclared_severity_rises_with_unregistered_deprecated_and_retired() -> None:
    found = by_subject(UndeclaredConsumerDetector().run(undeclared_input()))
    assert found["m1"].severity == "info"
    assert found["m3"].severity == "warning"
    assert found["notebook-42"].severity == "warning"
    assert found["m4"].severity == "critical"


# ----- deprecated in use ----------------------------------------------------------------------

def test_deprecated_and_retired_features_still_read() -> None:
    inp = AnalysisInput.build(
        now=NOW,
        features=[feature("old", status="deprecated", sunset=date(2027, 1, 1),
                          replacement="new"),
                  feature("late", status="deprecated", sunset=date(2026, 10, 1)),
                  feature("gone", status="retired"),
                  feature("quiet", status="deprecated"), feature("new")],
        consumers=[ConsumerInfo(name="m", features=("old",))],
        reads=[read("m", "old", count=3), read("nb", "old", count=4), read("m", "late"),
               read("m", "gone"), read("m", "quiet", age=120), read("m", "new")],
    )
    found = by_subject(DeprecatedInUseDetector().run(inp))
    assert sorted(found) == ["gone", "late", "old"]
    assert found["old"].severity == "warning"
    assert found["late"].severity == "critical"  # past its sunset
    assert found["gone"].severity == "critical"
    assert found["old"].evidence["total_reads"] == 7
    assert [(r["principal"], r["declared"]) for r in found["old"].evidence["readers"]] == [
        ("m", True), ("nb", False)]
    assert "use new" in found["old"].summary


def test_undocumented_features() -> None:
    inp = AnalysisInput.build(now=NOW, features=[
        feature("blank", description="  \n"), feature("empty", description=""),
        feature("fine"), feature("gone", description="", status="retired")])
    assert sorted(f.subject_name for f in UndocumentedDetector().run(inp)) == ["blank", "empty"]
