"""A synthetic organisation (400 features, 40 consumers) with planted debts of every kind.

The ground truth is known by construction; every detector must find exactly the planted
debts (precision and recall 1.0) and keep the right member of each correlated cluster.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from registry.analysis.detectors import KINDS, run_detectors
from registry.analysis.inputs import (
    AnalysisInput,
    ConsumerInfo,
    CorrelatedPair,
    FeatureInfo,
    FindingDraft,
    ImportanceValue,
    ReadStat,
    SourceInfo,
)

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
MODELS = [f"model_{i:02d}" for i in range(34)]


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class World:
    rng: random.Random
    features: dict[str, FeatureInfo] = field(default_factory=dict)
    sources: list[SourceInfo] = field(default_factory=list)
    declared: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    produces: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    reads: list[ReadStat] = field(default_factory=list)
    importance: list[ImportanceValue] = field(default_factory=list)
    correlations: list[CorrelatedPair] = field(default_factory=list)
    expected: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    keepers: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, consumer: str | None, *, value: float | None = 2.0,
            read_age: float | None = 2.0, count: int | None = None, age: float = 365,
            source: str | None = "raw_00", **fields: object) -> None:
        fields.setdefault("description", f"{name}: a documented feature.")
        fields.setdefault("changeset", 1)
        sources = (source,) if source and "depends_on" not in fields else ()
        self.features[name] = FeatureInfo(name=name, created=ago(age), sources=sources,
                                          **fields)  # type: ignore[arg-type]
        if consumer is None:
            return
        self.declared[consumer].append(name)
        if value is not None:
            self.importance.append(ImportanceValue(consumer=consumer, feature=name, value=value))
        if read_age is not None:
            self.read(consumer, name, read_age, count)

    def read(self, principal: str, name: str, age: float = 2.0, count: int | None = None) -> None:
        self.reads.append(ReadStat(principal=principal, feature=name, last_read=ago(age),
                                   count=self.rng.randint(5, 50) if count is None else count))

    def correlate(self, a: str, b: str, r: float) -> None:
        self.correlations.append(CorrelatedPair(a, b, r, r - 0.01, 10_000))

    def build(self) -> AnalysisInput:
        consumers = [ConsumerInfo(name=c, features=tuple(self.declared[c]),
                                  produces=tuple(self.produces[c]))
                     for c in sorted(set(self.declared) | set(self.produces))]
        return AnalysisInput.build(
            now=NOW, features=self.features.values(), sources=self.sources, consumers=consumers,
            reads=self.reads, importance=self.importance, correlations=self.correlations,
            changeset_sizes={1: sum(f.changeset == 1 for f in self.features.values()), 2: 4})


def plant(seed: int = 11) -> World:
    w = World(random.Random(seed))
    rng = w.rng
    w.sources = [SourceInfo(name=f"raw_{i:02d}") for i in range(20)]
    w.sources += [SourceInfo(name="stale_feed"), SourceInfo(name="thin_feed")]
    owner = iter(MODELS * 20)

    def healthy(name: str, consumer: str | None = None, **fields: object) -> None:
        w.add(name, consumer or next(owner), value=rng.uniform(1.0, 3.0),
              source=f"raw_{rng.randrange(20):02d}", **fields)

    for i in range(277):
        healthy(f"h_{i:03d}")
    for i in range(5):  # a dashboard declares and reads a few features; no importance
        w.declared["exec_dashboard"].append(f"h_{i:03d}")
        w.read("exec_dashboard", f"h_{i:03d}")
    for i in range(6):  # a model whose importance is computed, with its spread
        w.add(f"comp_{i}", None)
        w.declared["model_computed"].append(f"comp_{i}")
        w.read("model_computed", f"comp_{i}")
        w.importance.append(ImportanceValue(consumer="model_computed", feature=f"comp_{i}",
                                            value=0.1, std=0.005, repeats=5,
                                            method="permutation-computed"))
    for i in range(3):
        w.add(f"noisy_{i}", None)
        w.declared["model_computed"].append(f"noisy_{i}")
        w.read("model_computed", f"noisy_{i}")
        w.importance.append(ImportanceValue(consumer="model_computed", feature=f"noisy_{i}",
                                            value=0.01, std=0.05, repeats=5,
                                            method="permutation-computed"))
        w.expected["epsilon"].add(f"noisy_{i}")

    for i in range(10):  # dead: never read, or not for months; half still declared
        consumer = next(owner) if i % 2 else None
        w.add(f"dead_{i}", consumer, value=None, read_age=None)
        if i % 3 == 0:
            w.read("model_00", f"dead_{i}", age=rng.uniform(100, 300), count=0)
        w.expected["legacy"].add(f"dead_{i}")
    for i in range(5):  # created this week, nobody reads them yet: nothing to report
        w.add(f"young_{i}", None, age=3)
    for i in range(5):  # superseded: v2 is newer, correlated and carries the importance
        consumer = next(owner)
        w.add(f"old_{i}", consumer, value=0.001, age=400)
        w.add(f"new_{i}", consumer, value=2.0, age=60)
        w.correlate(f"new_{i}", f"old_{i}", 0.98)
        w.expected["legacy"].add(f"old_{i}")
        w.keepers[f"old_{i}"] = f"new_{i}"
    for b in range(4):  # explicit bundles: one member carries the importance
        consumer = next(owner)
        for k in range(5):
            w.add(f"bun{b}_{k}", consumer, value=2.0 if k == 0 else 0.002, bundle=f"launch-{b}")
            if k:
                w.expected["bundled"].add(f"bun{b}_{k}")
    for k in range(4):  # one SDK batch of four features: an implicit bundle
        w.add(f"batch_{k}", "model_33", value=2.0 if k == 0 else 0.002, changeset=2)
        if k:
            w.expected["bundled"].add(f"batch_{k}")
    for i in range(15):
        w.add(f"eps_{i}", next(owner), value=0.001)
        w.expected["epsilon"].add(f"eps_{i}")

    for i in range(5):  # correlated, the direct one is kept although the derived one matters more
        consumer = next(owner)
        w.add(f"corr_src_{i}", consumer, value=1.0)
        w.add(f"corr_der_{i}", consumer, value=2.5, depends_on=(f"corr_src_{i}",))
        w.correlate(f"corr_src_{i}", f"corr_der_{i}", 0.97)
        w.keepers[f"corr_der_{i}"] = f"corr_src_{i}"
    for t in range(3):  # chains of three: the most important is kept
        consumer = next(owner)
        for k, value in zip("abc", (2.5, 1.5, 1.2), strict=True):
            w.add(f"tri{t}_{k}", consumer, value=value)
        w.correlate(f"tri{t}_a", f"tri{t}_b", 0.99)
        w.correlate(f"tri{t}_b", f"tri{t}_c", -0.96)
        w.keepers[f"tri{t}_b"] = w.keepers[f"tri{t}_c"] = f"tri{t}_a"
    for u in range(2):  # equal lineage and importance: the more used is kept
        consumer = next(owner)
        w.add(f"use{u}_x", consumer, value=2.0, count=100)
        w.add(f"use{u}_y", consumer, value=2.0, count=10)
        w.correlate(f"use{u}_y", f"use{u}_x", 0.99)
        w.keepers[f"use{u}_y"] = f"use{u}_x"
    w.expected["correlated"] = set(w.keepers)
    for _ in range(60):  # correlated, but not enough to be redundant
        a, b = rng.sample([n for n in w.features if n.startswith("h_")], 2)
        w.correlate(a, b, rng.uniform(0.5, 0.93))

    # feedback loops: one direct, one hidden through three models
    w.sources.append(SourceInfo(name="loop.scores", kind="model_output", produced_by="loop_model"))
    w.add("loop_score", "loop_model", source="loop.scores")
    healthy("loop_input", "loop_model")
    for x, reader in (("a", "ring_b"), ("b", "ring_c"), ("c", "ring_a")):
        w.sources.append(SourceInfo(name=f"ring_{x}.out", kind="model_output"))
        w.produces[f"ring_{x}"].append(f"ring_{x}.out")
        w.add(f"ring_{x}_feat", reader, source=f"ring_{x}.out")
    w.expected["feedback_loop"] = {"loop_model", "ring_a"}

    for i in range(6):
        w.add(f"depr_{i}", next(owner), status="deprecated", replacement=f"h_{i:03d}")
        w.expected["deprecated_in_use"].add(f"depr_{i}")
    w.add("depr_dead", next(owner), status="deprecated", read_age=None)
    w.expected["legacy"].add("depr_dead")
    for i in range(2):
        w.add(f"ret_{i}", None, status="retired")
        w.read("model_05", f"ret_{i}")
        w.expected["deprecated_in_use"].add(f"ret_{i}")
    for i in range(8):
        healthy(f"doc_{i}", description="  ")
        w.expected["undocumented"].add(f"doc_{i}")

    for i in range(3):
        w.add(f"stale_{i}", next(owner), value=None, read_age=None, source="stale_feed")
        w.expected["legacy"].add(f"stale_{i}")
    for i in range(2):
        w.add(f"thin_{i}", next(owner), value=0.001, source="thin_feed")
        w.expected["epsilon"].add(f"thin_{i}")
    w.expected["underutilized_source"] = {"stale_feed", "thin_feed"}

    healthy_names = [n for n in w.features if n.startswith("h_")]
    for principal in ("model_00", "model_01", "model_02", "model_03", "model_04",
                      "notebook_alice", "notebook_bob", "etl_nightly"):
        for name in rng.sample(healthy_names, 2):
            if name not in w.declared.get(principal, []):
                w.read(principal, name)
                w.expected["undeclared_consumer"].add(principal)
    w.expected["undeclared_consumer"].add("model_05")  # reads the retired features
    return w


@pytest.fixture(scope="module")
def world() -> tuple[World, list[FindingDraft]]:
    w = plant()
    return w, run_detectors(w.build())


def test_the_world_has_the_advertised_size(world: tuple[World, list[FindingDraft]]) -> None:
    w, _ = world
    inp = w.build()
    assert len(inp.features) == 400
    assert len(inp.consumers) == 40


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_finds_exactly_the_planted_debts(
    world: tuple[World, list[FindingDraft]], kind: str
) -> None:
    w, findings = world
    found = {f.subject_name for f in findings if f.kind == kind}
    assert found == w.expected[kind], (
        f"false positives {sorted(found - w.expected[kind])}, "
        f"missed {sorted(w.expected[kind] - found)}")


def test_each_correlated_cluster_keeps_the_right_feature(
    world: tuple[World, list[FindingDraft]]
) -> None:
    w, findings = world
    kept = {f.subject_name: f.related[0][1] for f in findings if f.kind == "correlated"}
    assert kept == w.keepers


def test_results_do_not_depend_on_input_order(world: tuple[World, list[FindingDraft]]) -> None:
    w, findings = world
    shuffled = plant()
    rng = random.Random(5)
    for items in (shuffled.reads, shuffled.importance, shuffled.correlations, shuffled.sources):
        rng.shuffle(items)  # type: ignore[arg-type]
    again = run_detectors(shuffled.build())
    assert [(f.fingerprint, f.summary, f.evidence) for f in again] == [
        (f.fingerprint, f.summary, f.evidence) for f in findings]
