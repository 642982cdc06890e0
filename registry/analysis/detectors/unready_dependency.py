"""unready_dependency — a consumer in staging or production built on data not ready for it
(the data readiness levels: C hearsay, B faithful, A fit for the task).

Rule (subject = the consumer, ``related`` = exactly the sources below its need): a
``production`` consumer needs level ``A`` of every source it depends on, a ``staging``
consumer needs ``B``; ``development`` consumers need nothing. "Depends on" is transitive:
its declared features, their ``depends_on``, their sources, and the inputs of the models whose
outputs it reads (the consumer's ancestors in the catalog graph). A source without a declared
readiness is "not assessed": listed in the evidence, never a finding by itself.

Severity: critical for production, warning for staging.
"""

from __future__ import annotations

import networkx as nx

from registry.analysis.detectors.base import reachable, sorted_findings
from registry.analysis.inputs import AnalysisInput, ConsumerInfo, FindingDraft

__all__ = ["LEVELS", "NEEDS", "UnreadyDependencyDetector", "upstream_sources"]

LEVELS = ("C", "B", "A")
"""Readiness levels, lowest first."""
NEEDS = {"production": "A", "staging": "B"}
"""The level each stage needs of every source it depends on."""


def upstream_sources(graph: nx.DiGraph, consumer: str) -> list[str]:
    """Sources a consumer depends on transitively, sorted."""
    return reachable(graph, "consumer", consumer, "source", downstream=False)


class UnreadyDependencyDetector:
    kind = "unready_dependency"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        findings = []
        for consumer in inp.consumers.values():
            finding = self._judge(inp, consumer)
            if finding is not None:
                findings.append(finding)
        return sorted_findings(findings)

    def _judge(self, inp: AnalysisInput, consumer: ConsumerInfo) -> FindingDraft | None:
        need = NEEDS.get(consumer.stage)
        if need is None or not consumer.registered:
            return None
        sources = upstream_sources(inp.graph, consumer.name)
        levels = {s: inp.sources[s].readiness for s in sources if s in inp.sources}
        below = {s: lv for s, lv in levels.items()
                 if lv in LEVELS and LEVELS.index(lv) < LEVELS.index(need)}
        if not below:
            return None
        listed = ", ".join(f"{s} ({lv})" for s, lv in sorted(below.items()))
        return FindingDraft(
            kind=self.kind,
            subject_type="consumer",
            subject_name=consumer.name,
            related=tuple(("source", s) for s in below),
            severity="critical" if consumer.stage == "production" else "warning",
            summary=(f"{consumer.stage} consumer needs readiness {need} of its data but "
                     f"depends on {listed}"),
            evidence={
                "stage": consumer.stage,
                "needs": need,
                "below": [{"source": s, "readiness": lv} for s, lv in sorted(below.items())],
                "lowest": min(below.values(), key=LEVELS.index),
                "not_assessed": sorted(s for s, lv in levels.items() if not lv),
                "sources": len(sources),
                "owner": consumer.owner,
            },
        )
