"""A catalog under construction: its state and the building blocks the planting steps use
(taking features from the vocabulary pool, declaring them, finding models to host them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from registry.synthetic.features import Consumer, Feature, feature_entry, measure_features
from registry.synthetic.vocabulary import VOCAB

_MAX_HIGH, _MAX_LOW = 9, 5  # per reporting model: keeps every high share >= 3.5%


class CatalogBuilder:
    """Sources, consumers and a shuffled pool of candidate features, before debts are planted."""

    def __init__(self, n_features: int, n_consumers: int, n_teams: int, seed: int,
                 now: datetime) -> None:
        if not 5 <= n_teams <= len(VOCAB):
            raise ValueError(f"n_teams must be between 5 and {len(VOCAB)}")
        seeds = np.random.SeedSequence(seed).spawn(4)
        self.rng = np.random.default_rng(seeds[0])
        self.evidence_seeds = seeds[1:]
        self.now, self.today = now, now.date()
        self.k = max(3, n_features // 80)  # instances of each planted debt
        self.teams = list(VOCAB)[:n_teams]
        self.sources: dict[str, dict[str, Any]] = {}
        self.team_sources: dict[str, list[str]] = {team: [] for team in self.teams}
        self.features: dict[str, Feature] = {}
        self.consumers: dict[str, Consumer] = {}
        self.weights: dict[tuple[str, str], float] = {}  # reporting declarations; 0 = low share
        self.groups: dict[str, int] = {}  # feature -> correlated group sharing one latent column
        self.signal: list[str] = []  # the features the snapshot label depends on
        self.generic: list[Feature] = []
        self.unread: set[tuple[str, str]] = set()  # declared but not read
        self.stale: list[tuple[str, str]] = []  # read only more than 100 days ago
        self.undeclared: dict[str, list[str]] = {}
        self.keeper: dict[str, str] = {}
        self.legacy_reason: dict[str, str] = {}
        self.loops: list[tuple[str, ...]] = []
        self.underused: list[str] = []
        self.pool = self._candidates()
        self._make_consumers(n_consumers)

    def created(self, name: str) -> date:
        created = self.features[name].created
        assert created is not None
        return created

    # -- building blocks ------------------------------------------------------------------
    def _candidates(self) -> list[Feature]:
        pool: list[Feature] = []
        for team in self.teams:
            for name, kind, entity, text, measures in VOCAB[team][0]:
                self._add_source(name, kind, team, text)
                self.team_sources[team].append(name)
                pool.extend(measure_features(team, name, entity, measures))
        return [pool[i] for i in self.rng.permutation(len(pool))]

    def _add_source(self, name: str, kind: str, team: str, text: str,
                    produced_by: str | None = None) -> None:
        self.sources[name] = {"name": name, "kind": kind, "owner": team, "description": text}
        if produced_by:
            self.sources[name]["produced_by"] = produced_by

    def _make_consumers(self, n_consumers: int) -> None:
        vocab = {t: [tok.split(":") for tok in VOCAB[t][1].split()] for t in self.teams}
        pools: dict[str, list[tuple[str, str]]] = {}
        for i in range(max(len(v) for v in vocab.values())):
            for team in self.teams:
                if i < len(vocab[team]):
                    pools.setdefault(vocab[team][i][1], []).append((vocab[team][i][0], team))
        n_loop = max(1, self.k - 2) + 2 + (3 if self.k >= 4 else 0)
        n_models = max(n_loop + 5, round(0.45 * n_consumers))
        if n_consumers < n_models + 5:
            raise ValueError(f"n_consumers must be at least {n_models + 5} for n_features")
        others = ["dashboard", "service", "job", "dashboard", "notebook", "service"]
        for i in range(n_consumers):
            kind = "model" if i < n_models else others[i % len(others)]
            if kind != "model" and not pools.get(kind):
                kind = next((k for k in others if pools.get(k)), kind)
            if pools.get(kind):
                name, team = pools[kind].pop(0)
            else:
                team = self.teams[i % len(self.teams)]
                name = f"{team}_{kind}_{i}"
            self.consumers[name] = Consumer(name, team, kind)
        models = [c for c in self.consumers.values() if c.kind == "model"]
        self.snapshot_consumer = next((c for c in models if c.name == "fraud_model"), models[0])
        rest = [c for c in models if c is not self.snapshot_consumer]
        self.never_reader = rest.pop(int(self.rng.integers(len(rest))))
        for model in rest:
            model.reports = True
        self.reporting = rest
        self.loop_models = [rest[i] for i in self.rng.permutation(len(rest))[:n_loop]]
        self.readers = [c for c in self.consumers.values() if c.kind != "model"]

    def _take(self, team: str | None = None,
              pred: Callable[[Feature], bool] | None = None) -> Feature:
        for strict in (True, False):
            for i, candidate in enumerate(self.pool):
                if (pred is None or pred(candidate)) and (not strict or team in (None,
                                                                                  candidate.team)):
                    return self.pool.pop(i)
        raise ValueError("the feature vocabulary is exhausted: lower n_features or add teams")

    def _add(self, feature: Feature, role: str, age: tuple[int, int] = (60, 720)) -> Feature:
        if feature.name in self.features:
            raise AssertionError(f"duplicate feature {feature.name}")
        feature.role = role
        if feature.created is None:
            feature.created = self.today - timedelta(days=self._int(*age))
        self.features[feature.name] = feature
        return feature

    def _variant(self, base: Feature, suffix: str, note: str, source: str | None = None,
                 derived: bool = False) -> Feature:
        return Feature(f"{base.name}_{suffix}", base.team, base.dtype, base.dist, base.entity,
                       f"{base.summary} {note}", measure=base.measure, window=base.window,
                       sources=[] if derived else [source or base.sources[0]],
                       depends_on=[base.name] if derived else [])

    def _other_source(self, base: Feature, exclude: Sequence[str] = ()) -> str:
        options = [s for s in self.team_sources[base.team]
                   if s not in base.sources and s not in exclude]
        options = [s for s in options if self.sources[s]["kind"] != "api"] or options
        return options[self._int(0, len(options) - 1)]

    def _later(self, base: Feature, min_age: int = 20) -> tuple[int, int]:
        """An age range that makes a feature newer than `base`."""
        assert base.created is not None
        return min_age, max(min_age, (self.today - base.created).days)

    def _group(self, *features: Feature) -> None:
        group = len(set(self.groups.values())) + 1
        for feature in features:
            self.groups[feature.name] = group

    def _int(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def _weight(self, low: float = 1.0, high: float = 2.0) -> float:
        return round(float(self.rng.uniform(low, high)), 3)

    def _host(self, n_high: int, n_low: int, team: str,
              exclude: Sequence[Consumer] = ()) -> Consumer | None:
        fits = [c for c in self.reporting if c.high + n_high <= _MAX_HIGH
                and c.low + n_low <= _MAX_LOW and c not in exclude]
        return min(fits, key=lambda c: (c.team != team, c.high + c.low), default=None)

    def _must_host(self, n_high: int, n_low: int, team: str) -> Consumer:
        host = self._host(n_high, n_low, team)
        if host is None:
            raise ValueError("too few reporting models for the planted debts: raise n_consumers")
        return host

    def _reader(self, team: str, exclude: Sequence[str] = ()) -> Consumer:
        return min((c for c in self.readers if c.name not in exclude),
                   key=lambda c: (c.team != team, len(c.features)))

    def _declare(self, consumer: Consumer, feature: Feature, weight: float | None = None) -> None:
        consumer.features.append(feature.name)
        if consumer.reports:
            if weight is None:
                raise AssertionError(f"{consumer.name} reports importance: weight needed")
            self.weights[(consumer.name, feature.name)] = weight
            consumer.high, consumer.low = consumer.high + (weight > 0), consumer.low + (weight == 0)

    def _declare_anywhere(self, feature: Feature, prefer_model: bool) -> None:
        host = self._host(1, 0, feature.team) if prefer_model else None
        if host is not None:
            self._declare(host, feature, self._weight())
        else:
            self._declare(self._reader(feature.team), feature)

    # -- outputs ------------------------------------------------------------------------------
    def spec(self) -> dict[str, list[dict[str, Any]]]:
        consumers = []
        for name in sorted(self.consumers):
            consumer = self.consumers[name]
            entry: dict[str, Any] = {"name": name, "kind": consumer.kind, "owner": consumer.team,
                                     "features": sorted(consumer.features)}
            if consumer.produces:
                entry["produces"] = sorted(consumer.produces)
            consumers.append(entry)
        return {
            "teams": [{"name": team, "contact": f"{team}-ml@example.com"} for team in self.teams],
            "sources": [self.sources[name] for name in sorted(self.sources)],
            "features": [feature_entry(self.features[name]) for name in sorted(self.features)],
            "consumers": consumers,
        }
