"""Planned features and consumers, and the vocabulary helpers that name and classify them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from registry.synthetic.vocabulary import WINDOWS


@dataclass
class Feature:
    """A feature being planted, with the role it plays in the truth ("healthy", "dead", ...)."""

    name: str
    team: str
    dtype: str
    dist: str
    entity: str
    summary: str
    measure: str = ""
    sources: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    window: str | None = None
    created: date | None = None
    role: str = "healthy"
    description: str | None = None
    documented: bool = True
    status: str = "active"
    sunset: date | None = None
    replacement: str | None = None
    bundle: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Consumer:
    """A consumer being planted; `high`/`low` count its reported high and low shares."""

    name: str
    team: str
    kind: str
    reports: bool = False
    features: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    high: int = 0
    low: int = 0


def measure_features(team: str, source: str, entity: str, measures: str) -> list[Feature]:
    features = []
    for token in measures.split():
        measure, dtype, dist = token.lstrip("=").split(":")
        for window in [None] if token.startswith("=") else list(WINDOWS):
            name = f"{entity}_{measure}" + (f"_{window}" if window else "")
            features.append(Feature(name, team, dtype, dist, entity,
                                    _summary(entity, measure, dist, window), measure=measure,
                                    sources=[source], window=window))
    return features


def _summary(entity: str, measure: str, dist: str, window: str | None) -> str:
    words = measure.replace("_", " ")
    span = ""
    if window:
        span = " over the last day" if window == "1d" else f" over the last {window[:-1]} days"
    return {
        "count": f"Number of {words} per {entity}{span}.",
        "days": f"Number of {words} per {entity}{span}.",
        "duration": f"Total {words} per {entity}{span}.",
        "amount": f"Sum of {words} per {entity}{span}, in EUR.",
        "rate": f"Share of {words} for the {entity}{span}, between 0 and 1.",
        "score": f"{words.capitalize()} of the {entity}, between 0 and 1.",
        "bool": f"Whether the {entity} {words}.",
        "ts": f"When the {entity} was {words.removesuffix(' at')} (UTC).",
        "vec": f"{words.capitalize()} of the {entity}: a 128-dimensional float vector.",
        "str": f"{words.capitalize()} of the {entity}, as reported by the client.",
    }.get(dist, f"{words.capitalize()} of the {entity}, one of a small set of values.")


def derived_feature(name: str, parents: list[Feature], summary: str) -> Feature:
    first = parents[0]
    dist = "score" if "_index_" in name else "ratio"
    return Feature(name, first.team, "float", dist, first.entity, summary, measure=name,
                   window=first.window, depends_on=[p.name for p in parents])


def built_on(source: str) -> Callable[[Feature], bool]:
    return lambda feature: feature.sources == [source]


def is_signal(feature: Feature) -> bool:
    return feature.dtype in ("int", "float") and feature.window not in (None, "1d")


def is_correlatable(feature: Feature) -> bool:
    return feature.dist in ("amount", "duration") and feature.window is not None


def feature_entry(feature: Feature) -> dict[str, Any]:
    """The feature as an entry of the YAML spec."""
    entry: dict[str, Any] = {"name": feature.name, "owner": feature.team, "dtype": feature.dtype}
    if feature.description is not None:
        entry["description"] = feature.description
    if feature.sources:
        entry["sources"] = list(feature.sources)
    if feature.depends_on:
        entry["depends_on"] = list(feature.depends_on)
    if feature.bundle:
        entry["bundle"] = feature.bundle
    entry.update(tags=list(feature.tags), created=feature.created, status=feature.status)
    if feature.sunset:
        entry["sunset"] = feature.sunset
    if feature.replacement:
        entry["replacement"] = feature.replacement
    return entry

