"""correlated — redundant features: keep one of each correlated cluster, drop the others.

Rule (subject = a feature to drop, ``related`` = the feature to keep):

Two active features are linked when |Pearson| or |Spearman| >= ``correlated_threshold``; the
clusters are the connected components of these links, so a cluster of three or more keeps
exactly one. The keeper is the first by:

1. fewer lineage hops from a source (the more direct feature; none reachable counts as far),
2. higher largest importance share over consumers (no evidence counts as 0),
3. more reads within the usage window,
4. name (alphabetical), so the choice is always deterministic.

Each other member gets one finding whose evidence gives the cluster, the correlations with the
keeper (or the chain of links leading to it), and which criterion decided. Severity: info.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx

from registry.analysis.detectors.base import (
    feature_ref,
    percent,
    sorted_findings,
    strong_pairs,
)
from registry.analysis.inputs import AnalysisInput, CorrelatedPair, FindingDraft

__all__ = ["CRITERIA", "CorrelatedDetector", "keeper_order"]

CRITERIA: tuple[tuple[str, str], ...] = (
    ("hops", "fewer lineage hops from a source"),
    ("importance", "higher importance share"),
    ("usage", "more reads"),
    ("name", "alphabetical order (all else equal)"),
)


def keeper_order(inp: AnalysisInput, name: str) -> tuple[float, float, int, str]:
    """Sort key of a feature as a keeper candidate: the smallest is kept."""
    hops = inp.lineage_hops.get(name)
    return (
        math.inf if hops is None else float(hops),
        -(inp.max_share(name) or 0.0),
        -inp.current_reads(name),
        name,
    )


class CorrelatedDetector:
    kind = "correlated"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        pairs = strong_pairs(inp, inp.settings.correlated_threshold)
        links = nx.Graph()
        for pair in pairs:
            links.add_edge(pair.a, pair.b, pair=pair)
        findings: list[FindingDraft] = []
        for component in sorted(sorted(c) for c in nx.connected_components(links)):
            keeper = min(component, key=lambda n: keeper_order(inp, n))
            for member in component:
                if member != keeper:
                    findings.append(self._finding(inp, links, component, member, keeper))
        return sorted_findings(findings)

    def _finding(
        self, inp: AnalysisInput, links: nx.Graph, cluster: list[str], member: str, keeper: str
    ) -> FindingDraft:
        member_key, keeper_key = keeper_order(inp, member), keeper_order(inp, keeper)
        decided = next(i for i, (m, k) in enumerate(zip(member_key, keeper_key, strict=True))
                       if m != k)
        criterion, reason = CRITERIA[decided]
        direct: CorrelatedPair | None = links.edges[member, keeper]["pair"] if links.has_edge(
            member, keeper) else None
        chain = [str(n) for n in nx.shortest_path(links, member, keeper)]
        if direct is not None:
            link_text = f"|r| = {direct.strength:.3f}"
        else:
            link_text = f"linked through {', '.join(chain[1:-1])}"
        summary = (f"redundant with {keeper} ({link_text}); keep {keeper}: {reason}"
                   f"{_detail(criterion, inp, member, keeper)}")
        return FindingDraft(
            kind=self.kind,
            subject_type="feature",
            subject_name=member,
            related=(feature_ref(keeper),),
            severity="info",
            summary=summary,
            evidence={
                "keeper": keeper,
                "cluster": list(cluster),
                "reason": criterion,
                "reason_text": reason,
                "pearson": direct.pearson if direct else None,
                "spearman": direct.spearman if direct else None,
                "n": direct.n if direct else None,
                "chain": chain,
                "pairs": [_pair_evidence(links.edges[u, v]["pair"])
                          for u, v in sorted(links.edges(cluster)) if member in (u, v)],
                "threshold": inp.settings.correlated_threshold,
                "candidates": {
                    name: {
                        "hops": inp.lineage_hops.get(name),
                        "max_share": inp.max_share(name),
                        "reads": inp.current_reads(name),
                    }
                    for name in (member, keeper)
                },
            },
        )


def _detail(criterion: str, inp: AnalysisInput, member: str, keeper: str) -> str:
    if criterion == "hops":
        def text(hops: int | None) -> str:
            return "none" if hops is None else str(hops)
        return (f" ({text(inp.lineage_hops.get(keeper))} vs "
                f"{text(inp.lineage_hops.get(member))})")
    if criterion == "importance":
        return f" ({percent(inp.max_share(keeper) or 0.0)} vs {percent(inp.max_share(member))})"
    if criterion == "usage":
        return f" ({inp.current_reads(keeper)} vs {inp.current_reads(member)})"
    return ""


def _pair_evidence(pair: CorrelatedPair) -> dict[str, Any]:
    return {"a": pair.a, "b": pair.b, "pearson": pair.pearson, "spearman": pair.spearman,
            "n": pair.n}
