"""Plants every finding kind of DESIGN.md in a catalog and records the truth about it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from registry.synthetic.builder import CatalogBuilder
from registry.synthetic.descriptions import describe
from registry.synthetic.features import (
    Consumer,
    Feature,
    built_on,
    derived_feature,
    is_correlatable,
    is_signal,
    measure_features,
)
from registry.synthetic.vocabulary import INDEX_WORD, TRANSFORMS, UNDERUSED


class PlantedCatalog(CatalogBuilder):
    """Plants the catalog (sources, consumers, features, declarations) and records the truth."""

    def __init__(self, n_features: int, n_consumers: int, n_teams: int, seed: int,
                 now: datetime) -> None:
        super().__init__(n_features, n_consumers, n_teams, seed, now)
        for team in self.teams:  # a healthy anchor keeps each source out of underutilized_source
            for source in self.team_sources[team]:
                anchor = self._take(pred=built_on(source))
                self.generic.append(self._add(anchor, "healthy"))
        self._plant_loops()
        self._plant_snapshot_consumer()
        self._plant_correlated()
        self._plant_legacy()
        self._plant_bundles()
        self._plant_epsilon()
        self._plant_underused()
        self._plant_deprecated_and_undocumented()
        self._fill_generic(n_features)
        self._plant_undeclared()
        self._finish()

    # -- planted debts ----------------------------------------------------------------------
    def _model_output_feature(self, model: Consumer, label: str) -> Feature:
        source = f"{model.name}.predictions"
        if source not in self.sources:
            self._add_source(source, "model_output", model.team,
                             f"Predictions written by `{model.name}` after each scoring run.",
                             produced_by=model.name)
            model.produces.append(source)
        summary = f"Score of `{model.name}` for the entity, read back from `{source}`."
        feature = Feature(f"{model.name}_{label}", model.team, "float", "score", "entity",
                          summary, measure="score", sources=[source])
        return self._add(feature, "healthy", (90, 400))

    def _plant_loops(self) -> None:
        sizes = [1] * max(1, self.k - 2) + [2] + ([3] if self.k >= 4 else [])
        models = iter(self.loop_models)
        for size in sizes:
            cycle = [next(models) for _ in range(size)]
            for i, model in enumerate(cycle):  # model -> its predictions -> feature -> next model
                label = "score_7d_avg" if size == 1 else "prediction_latest"
                self._declare(cycle[(i + 1) % size], self._model_output_feature(model, label),
                              self._weight())
            names = [model.name for model in cycle]
            start = names.index(min(names))
            self.loops.append(tuple(names[start:] + names[:start]))
        quiet = [m for m in self.reporting if m not in self.loop_models][:2]
        for model in quiet:  # model outputs read by services only: no loop
            feature = self._model_output_feature(model, "score_latest")
            self._declare(self._reader(model.team), feature)

    def _plant_snapshot_consumer(self) -> None:
        model = self.snapshot_consumer
        for _ in range(4):
            signal = self._add(self._take(model.team, is_signal), "healthy")
            self._declare(model, signal)
            self.signal.append(signal.name)
        base = self._add(self._take(model.team, is_correlatable), "healthy")
        twin = self._variant(base, "norm", f"Derived from `{base.name}`: {TRANSFORMS['norm']}.",
                             derived=True)
        twin.created = base.created  # registered together: neither supersedes the other
        self._add(twin, "healthy")
        self._group(base, twin)
        self.keeper[twin.name] = base.name
        self.signal.append(base.name)
        for feature in (base, twin):
            self._declare(model, feature)
        for _ in range(2):  # computed importance ~0: epsilon without any reported importance
            self._declare(model, self._add(self._take(model.team, is_signal), "epsilon"))

    def _derived_twin(self, base: Feature, suffix: str) -> Feature:
        note = f"Derived from `{base.name}`: {TRANSFORMS[suffix]}."
        return self._add(self._variant(base, suffix, note, derived=True), "healthy",
                         self._later(base))

    def _source_twin(self, base: Feature, role: str = "healthy", suffix: str | None = None,
                     exclude: Sequence[str] = (), age: tuple[int, int] | None = None) -> Feature:
        source = self._other_source(base, exclude)
        suffix = suffix or f"from_{source.split('.')[-1]}"
        note = f"Recomputed from `{source}` by the {base.team} team."
        return self._add(self._variant(base, suffix, note, source=source), role,
                         age or (60, 720))

    def _plant_correlated(self) -> None:
        transforms = list(TRANSFORMS)
        n_pairs = max(1, self.k // 2)
        for i in range(n_pairs):  # derived twin: lineage hops decide, whatever the importance
            base = self._add(self._take(pred=is_correlatable), "healthy")
            twin = self._derived_twin(base, transforms[self._int(0, len(transforms) - 1)])
            host = self._must_host(2, 0, base.team)
            self._declare(host, base, 1.0 if i % 2 == 0 else 2.5)
            self._declare(host, twin, 2.5 if i % 2 == 0 else 1.0)
            self._group(base, twin)
            self.keeper[twin.name] = base.name
        for _ in range(n_pairs):  # the same metric from two pipelines: importance decides
            base = self._add(self._take(pred=is_correlatable), "healthy")
            twin = self._source_twin(base)
            host = self._must_host(2, 0, base.team)
            self._declare(host, base, 3.0)
            self._declare(host, twin, 1.0)
            self._group(base, twin)
            self.keeper[twin.name] = base.name
        base = self._add(self._take(pred=is_correlatable), "healthy")  # cluster of three: hops
        picks = self.rng.permutation(len(transforms))[:2]
        twins = [self._derived_twin(base, transforms[i]) for i in picks]
        host = self._must_host(3, 0, base.team)
        for feature in (base, *twins):
            self._declare(host, feature, self._weight(1.0, 2.5))
        self.keeper.update({twin.name: base.name for twin in twins})
        self._group(base, *twins)
        base = self._add(self._take(pred=is_correlatable), "healthy")  # three: importance
        first = self._source_twin(base)
        second = self._source_twin(base, exclude=first.sources)
        host = self._must_host(3, 0, base.team)
        for feature, weight in ((base, 3.0), (first, 1.2), (second, 1.0)):
            self._declare(host, feature, weight)
        self.keeper.update({first.name: base.name, second.name: base.name})
        self._group(base, first, second)
        # group case: a newer twin adds < 1% on its own; the pair carries the importance
        base = self._add(self._take(pred=is_correlatable), "healthy", (200, 720))
        twin = self._source_twin(base, age=(20, 150))
        host = self._must_host(1, 1, base.team)
        self._declare(host, base, 3.0)
        self._declare(host, twin, 0.0)
        self._group(base, twin)
        self.keeper[twin.name] = base.name
        for _ in range(max(2, self.k // 2 + 1)):  # superseded: an older copy, < 1% share
            old = self._add(self._take(pred=is_correlatable), "superseded", (500, 720))
            new = self._add(self._variant(old, "v2", "Version 2: drops bot traffic and late "
                                          "events."), "healthy", (100, 250))
            host = self._must_host(1, 1, old.team)
            self._declare(host, old, 0.0)
            self._declare(host, new, 2.0)
            self._group(old, new)
            self.keeper[old.name] = new.name
            self.legacy_reason[old.name] = "superseded"

    def _plant_legacy(self) -> None:
        for i in range(self.k):  # dead: nothing read it for 100+ days
            feature = self._add(self._take(), "dead", (400, 720))
            self.legacy_reason[feature.name] = "dead"
            if i % 3 == 0:
                self._declare(self.never_reader, feature)
            elif i % 3 == 1:
                reader = self._reader(feature.team)
                self._declare(reader, feature)
                self.unread.add((reader.name, feature.name))
                self.stale.append((reader.name, feature.name))
        for i in range(2):  # created days ago and not read yet: inside the grace period
            feature = self._add(self._take(), "new", (2, 6))
            if i == 0:
                reader = self._reader(feature.team)
                self._declare(reader, feature)
                self.unread.add((reader.name, feature.name))

    def _plant_bundles(self) -> None:
        n_low = max(1, (self.k + 1) // 3)
        words = ["signals", "launch", "revamp", "expansion", "refresh", "migration"]
        for i in range(n_low + max(1, self.k // 3)):
            healthy = i >= n_low
            team = self.teams[self._int(0, len(self.teams) - 1)]
            members = [self._take(team) for _ in range(4 if healthy else 5)]
            created = self.today - timedelta(days=self._int(90, 600))
            name = f"{team}-{words[i % len(words)]}-{created.year}q{(created.month + 2) // 3}"
            host = self._must_host(len(members) if healthy else 2, 0 if healthy else 3, team)
            for j, feature in enumerate(members):
                carries = healthy or j < 2
                feature.created, feature.bundle = created, name
                self._add(feature, "healthy" if carries else "bundled")
                self._declare(host, feature, self._weight(1.2, 2.5) if carries else 0.0)

    def _plant_epsilon(self) -> None:
        for i in range(self.k):
            feature = self._add(self._take(), "epsilon")
            host = self._must_host(0, 1, feature.team)
            self._declare(host, feature, 0.0)
            second = self._host(0, 1, feature.team, exclude=[host]) if i % 3 == 2 else None
            if second is not None:
                self._declare(second, feature, 0.0)

    def _plant_underused(self) -> None:
        teams = [team for team in self.teams if team in UNDERUSED]
        for i, index in enumerate(self.rng.permutation(len(teams))[: max(2, self.k - 2)]):
            team = teams[index]
            name, kind, entity, text, measures = UNDERUSED[team]
            self._add_source(name, kind, team, text)
            self.underused.append(name)
            for j, feature in enumerate(measure_features(team, name, entity, measures)):
                if j == 1 and i % 2 == 0:
                    self._add(feature, "epsilon")
                    self._declare(self._must_host(0, 1, team), feature, 0.0)
                    continue
                self._add(feature, "dead", (400, 720))
                self.legacy_reason[feature.name] = "dead"
                if j == 0:
                    self._declare(self.never_reader, feature)

    def _plant_deprecated_and_undocumented(self) -> None:
        for i in range(self.k):
            feature = self._add(self._take(), "deprecated", (200, 700))
            feature.status = "deprecated"
            feature.sunset = self.today + timedelta(days=-12 if i % 3 == 0 else self._int(20, 120))
            self._declare_anywhere(feature, prefer_model=i % 2 == 0)
        for i in range(self.k):
            feature = self._add(self._take(), "undocumented")
            feature.documented = False
            self._declare_anywhere(feature, prefer_model=i % 2 == 1)

    # -- healthy bulk, undeclared readers, finishing touches ----------------------------------
    def _fill_generic(self, n_features: int) -> None:
        remaining = n_features - len(self.features)
        if remaining < 10:
            raise ValueError(f"n_features must be at least {len(self.features) + 10}")
        n_base = min(remaining - remaining // 4, len(self.pool))
        self.generic += [self._add(self._take(), "healthy") for _ in range(n_base)]
        self._derive(n_features - len(self.features))
        for feature in self.generic:
            host = self._host(1, 0, feature.team) if self.rng.random() < 0.4 else None
            if host is not None:
                self._declare(host, feature, self._weight())
            else:
                self._declare(self._reader(feature.team), feature)
            if self.rng.random() < 0.25:  # a second, non-reporting reader
                others = [c for c in self.readers if feature.name not in c.features]
                self._declare(others[self._int(0, len(others) - 1)], feature)
        for consumer in self.readers + self.reporting:  # every report has >= 2 carriers
            while (consumer.high if consumer.reports else len(consumer.features)) < 2:
                options = [f for f in self.generic if f.name not in consumer.features]
                self._declare(consumer, options[self._int(0, len(options) - 1)], 1.0)

    def _derive(self, count: int) -> None:
        by_window: dict[tuple[str, str], list[Feature]] = {}
        by_measure: dict[tuple[str, str], dict[str, Feature]] = {}
        for feature in self.generic:
            if feature.dist in ("count", "days", "amount", "duration") and feature.window:
                by_window.setdefault((feature.entity, feature.window), []).append(feature)
                key = (feature.entity, feature.measure)
                by_measure.setdefault(key, {})[feature.window] = feature
        level1 = [derived_feature(
                      f"{e}_{a.measure}_per_{b.measure}_{w}", [a, b],
                      f"Ratio of `{a.name}` to `{b.name}` (0 when `{b.name}` is 0).")
                  for (e, w), group in by_window.items() for a, b in combinations(group, 2)]
        level1 += [derived_feature(
                       f"{e}_{m}_trend_7d_30d", [ws["7d"], ws["30d"]],
                       f"Daily rate over 7 days divided by the daily rate over 30 days "
                       f"of `{e}_{m}`: above 1 when the {e} is trending up.")
                   for (e, m), ws in by_measure.items() if "7d" in ws and "30d" in ws]
        level1 = [level1[i] for i in self.rng.permutation(len(level1))]
        taken = level1[: count - count // 6]
        by_entity: dict[tuple[str, str], list[Feature]] = {}
        for feature in taken:
            if feature.window:
                by_entity.setdefault((feature.entity, feature.window), []).append(feature)
        level2 = [derived_feature(
                      f"{e}_{INDEX_WORD.get(e, 'composite')}_index_{w}", parents[:3],
                      f"Composite {INDEX_WORD.get(e, 'composite')} index of the {e}, "
                      f"the mean of {len(parents[:3])} standardised ratios.")
                  for (e, w), parents in by_entity.items() if len(parents) >= 2]
        chosen = taken + level2[: count - len(taken)]
        chosen += level1[len(taken): len(taken) + count - len(chosen)]
        if len(chosen) < count:
            raise ValueError("the feature vocabulary is exhausted: lower n_features or add teams")
        for feature in chosen:
            parents = [self.features[name] for name in feature.depends_on]
            newest = max(p.created for p in parents if p.created is not None)
            age = (self.today - newest).days
            self.generic.append(self._add(feature, "healthy", (max(20, age - 60), max(20, age))))

    def _plant_undeclared(self) -> None:
        settled = [f.name for f in self.generic if f.created and f.created
                   <= self.today - timedelta(days=30)]
        picks = iter([settled[i] for i in self.rng.permutation(len(settled))])
        for i, index in enumerate(self.rng.permutation(len(self.readers))[: max(1, self.k - 2)]):
            reader = self.readers[index]
            names: list[str] = []
            while len(names) < 1 + i % 2:
                name = next(picks)
                if name not in reader.features:
                    names.append(name)
            self.undeclared[reader.name] = names
        deprecated = next(f.name for f in self.features.values() if f.role == "deprecated")
        self.undeclared["adhoc-notebook-jane"] = [next(picks) for _ in range(3)] + [deprecated]
        self.undeclared["etl-backfill-tmp"] = [next(picks) for _ in range(2)]

    def _finish(self) -> None:
        for feature in self.features.values():
            if feature.status == "deprecated":
                options = [f for f in self.generic if f.team == feature.team] or self.generic
                same = [f for f in options if f.entity == feature.entity] or options
                feature.replacement = same[self._int(0, len(same) - 1)].name
        for name in sorted(self.features):
            feature = self.features[name]
            kinds = {self.sources[s]["kind"] for s in feature.sources}
            feature.tags = [feature.team] + [tag for tag, on in (
                ("realtime", "stream" in kinds), ("batch", bool(kinds & {"table", "file"})),
                ("external", "api" in kinds), ("model-output", "model_output" in kinds),
                ("derived", bool(feature.depends_on)), (f"window-{feature.window}",
                                                        bool(feature.window)),
                ("experimental", feature.role == "new")) if on]
            if feature.documented:
                feature.description = describe(feature, self.rng)


    # -- outputs ------------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        def role(*roles: str) -> set[str]:
            return {f.name for f in self.features.values() if f.role in roles}

        return {
            "legacy": set(self.legacy_reason), "legacy_reason": dict(self.legacy_reason),
            "bundled": role("bundled"), "epsilon": role("epsilon"),
            "bundle_of": {f.name: f.bundle for f in self.features.values() if f.role == "bundled"},
            "correlated": set(self.keeper), "correlated_keeper": dict(self.keeper),
            "undeclared_consumer": set(self.undeclared),
            "undeclared_reads": {p: set(names) for p, names in self.undeclared.items()},
            "feedback_loop": set(self.loops), "deprecated_in_use": role("deprecated"),
            "undocumented": {f.name for f in self.features.values() if not f.documented},
            "underutilized_source": set(self.underused), "new_unread": role("new"),
            "snapshot_consumer": self.snapshot_consumer.name,
        }
