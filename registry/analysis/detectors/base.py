"""What every detector shares: the detector protocols and helpers over the analysis input."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import networkx as nx

from registry.analysis.inputs import (
    AnalysisInput,
    CorrelatedPair,
    FeatureInfo,
    FindingDraft,
    as_utc,
)

__all__ = [
    "Bundle",
    "Detector",
    "FollowUpDetector",
    "bundles",
    "ClusterShares",
    "cluster_shares",
    "correlated_clusters",
    "reachable",
    "feature_ref",
    "finite",
    "importance_evidence",
    "features_with_status",
    "iso",
    "percent",
    "sorted_findings",
    "strong_pairs",
]


@runtime_checkable
class Detector(Protocol):
    """A pure function of the analysis input to sorted finding drafts."""

    kind: str

    def run(self, inp: AnalysisInput) -> list[FindingDraft]: ...


@runtime_checkable
class FollowUpDetector(Protocol):
    """A detector that reads the final findings of other kinds (``uses_findings``).

    `run_detectors` runs it after every plain detector and after precedence, passing those
    findings as ``prior``; called alone (``prior=None``) it computes them itself.
    """

    kind: str
    uses_findings: tuple[str, ...]

    def run(
        self, inp: AnalysisInput, prior: Sequence[FindingDraft] | None = None
    ) -> list[FindingDraft]: ...


def reachable(graph: nx.DiGraph, node_type: str, name: str, want: str, *, downstream: bool
              ) -> list[str]:
    """Names of the ``want``-type objects that depend on (``downstream``) or that feed the
    object, transitively through the catalog graph, sorted."""
    from registry.analysis.graph import node_id, parse_node

    start = node_id(node_type, name)
    if start not in graph:
        return []
    found = nx.descendants(graph, start) if downstream else nx.ancestors(graph, start)
    return sorted(n for kind, n in map(parse_node, found) if kind == want)


def feature_ref(name: str) -> tuple[str, str]:
    return ("feature", name)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of a time (None stays None), for evidence."""
    return None if moment is None else moment.isoformat()


def percent(share: float | None) -> str:
    """A share as text: 0.0042 -> "0.42%"."""
    if share is None:
        return "n/a"
    return f"{share * 100:.2g}%" if share < 0.1 else f"{share * 100:.1f}%"


def features_with_status(inp: AnalysisInput, *statuses: str) -> list[FeatureInfo]:
    """Features of the given statuses, sorted by name."""
    return [f for name, f in sorted(inp.features.items()) if f.status in statuses]


def sorted_findings(findings: Iterable[FindingDraft]) -> list[FindingDraft]:
    """Deterministic order: kind, subject, related."""
    return sorted(findings, key=lambda f: (f.kind, f.subject_type, f.subject_name, f.related))


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else None (evidence must be valid JSON)."""
    return value if value is not None and math.isfinite(value) else None


def importance_evidence(inp: AnalysisInput, feature: str) -> list[dict[str, Any]]:
    """JSON-safe rows explaining a feature's importance, one per consumer with a report."""
    shares = inp.importance_shares.get(feature, {})
    rows: list[dict[str, Any]] = []
    for consumer in sorted(inp.importance_by_consumer):
        row = inp.latest_importance.get((consumer, feature))
        if row is None:
            continue
        rows.append({
            "consumer": consumer,
            "value": finite(row.value),
            "std": finite(row.std),
            "repeats": row.repeats,
            "method": row.method,
            "effective": inp.importance_by_consumer[consumer][feature],
            "share": shares.get(consumer),
            "reported_at": iso(None if row.reported_at is None else as_utc(row.reported_at)),
        })
    return rows


def strong_pairs(inp: AnalysisInput, threshold: float) -> list[CorrelatedPair]:
    """Correlated pairs of two distinct active features at or above ``threshold``.

    One pair per unordered couple (the strongest when the input repeats one), with ``a < b``,
    sorted.
    """
    active = {f.name for f in features_with_status(inp, "active")}
    best: dict[tuple[str, str], CorrelatedPair] = {}
    for pair in inp.correlations:
        if pair.a == pair.b or pair.a not in active or pair.b not in active:
            continue
        key = (min(pair.a, pair.b), max(pair.a, pair.b))
        oriented = CorrelatedPair(key[0], key[1], finite(pair.pearson), finite(pair.spearman),
                                  pair.n)
        if oriented.strength < threshold:
            continue
        held = best.get(key)
        if held is None or oriented.strength > held.strength:
            best[key] = oriented
    return [best[key] for key in sorted(best)]


def correlated_clusters(inp: AnalysisInput, threshold: float) -> list[tuple[str, ...]]:
    """Connected components (two or more active features) of the pairs at ``threshold``."""
    graph = nx.Graph()
    graph.add_edges_from((p.a, p.b) for p in strong_pairs(inp, threshold))
    return sorted(tuple(sorted(c)) for c in nx.connected_components(graph))


@dataclass(frozen=True)
class ClusterShares:
    """A feature's correlated cluster and that cluster's importance share per consumer."""

    cluster: tuple[str, ...]
    shares: dict[str, float]

    @property
    def best(self) -> float:
        return max(self.shares.values(), default=0.0)


def cluster_shares(inp: AnalysisInput) -> dict[str, ClusterShares]:
    """For every member of a correlated cluster (at ``correlated_threshold``): its group shares.

    DESIGN.md: every detector that reads importance judges a feature together with its
    correlated cluster; a member of a cluster whose group importance is real is redundant
    (the correlated detector reports it), not worthless.
    """
    result: dict[str, ClusterShares] = {}
    for cluster in correlated_clusters(inp, inp.settings.correlated_threshold):
        shares = ClusterShares(cluster, inp.group_shares(cluster))
        for member in cluster:
            result[member] = shares
    return result


@dataclass(frozen=True)
class Bundle:
    """Features that arrived together: an explicit ``bundle:`` name or one change set."""

    name: str
    origin: str
    """"explicit" or "changeset"."""
    members: tuple[str, ...]
    changeset: int | None = None
    changeset_size: int | None = None


def bundles(inp: AnalysisInput) -> list[Bundle]:
    """Every bundle with at least ``bundle_min_size`` members, sorted by name.

    Members of an explicit bundle are the features (any status) naming it. The implicit bundle
    of a change set is the features it first registered without an explicit bundle, provided
    the change set registered between ``bundle_changeset_min`` and ``bundle_changeset_max``
    features in all (a bulk import of more is not a bundle).
    """
    settings = inp.settings
    explicit: dict[str, list[str]] = {}
    by_changeset: dict[int, list[str]] = {}
    for name, feature in sorted(inp.features.items()):
        if feature.bundle:
            explicit.setdefault(feature.bundle, []).append(name)
        elif feature.changeset is not None:
            by_changeset.setdefault(feature.changeset, []).append(name)
    found = [Bundle(name, "explicit", tuple(members)) for name, members in explicit.items()]
    for changeset, members in by_changeset.items():
        size = inp.changeset_sizes.get(changeset, len(members))
        if settings.bundle_changeset_min <= size <= settings.bundle_changeset_max:
            found.append(Bundle(f"change set {changeset}", "changeset", tuple(members),
                                changeset=changeset, changeset_size=size))
    return sorted((b for b in found if len(b.members) >= settings.bundle_min_size),
                  key=lambda b: (b.origin, b.name))
