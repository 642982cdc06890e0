"""underutilized_source — sources that feed only features not worth keeping.

Rule (subject = the source, ``related`` = the features built on it):

A source with at least one non-retired feature built on it — directly (the feature lists the
source) or through ``depends_on`` chains — where every such feature has a legacy, bundled or
epsilon finding after precedence. It runs after those detectors (``uses_findings``): given
their final findings as ``prior``, or computing them itself when called alone.
Severity: info.
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.analysis.detectors.base import feature_ref, sorted_findings
from registry.analysis.detectors.precedence import EXCLUSIVE_KINDS, apply_precedence
from registry.analysis.graph import features_by_source, sources_reaching
from registry.analysis.inputs import AnalysisInput, FindingDraft

__all__ = ["UnderutilizedSourceDetector"]


class UnderutilizedSourceDetector:
    kind = "underutilized_source"
    uses_findings: tuple[str, ...] = EXCLUSIVE_KINDS

    def run(
        self, inp: AnalysisInput, prior: Sequence[FindingDraft] | None = None
    ) -> list[FindingDraft]:
        if prior is None:
            prior = _exclusive_findings(inp)
        flagged = {
            f.subject_name: f.kind
            for f in prior
            if f.kind in self.uses_findings and f.subject_type == "feature"
        }
        # only sources that no feature worth keeping is built on can qualify: find the others
        # in one upstream traversal instead of walking down from every source
        kept = [name for name, info in inp.features.items()
                if info.status != "retired" and name not in flagged]
        reaching = sources_reaching(inp.graph, kept)
        candidates = {name for name in inp.sources if name not in reaching}
        findings: list[FindingDraft] = []
        for source, on_source in features_by_source(inp.graph, candidates).items():
            built = [name for name in on_source if inp.features[name].status != "retired"]
            if not built or any(name not in flagged for name in built):
                continue
            kinds = {name: flagged[name] for name in built}
            counts = {kind: sum(1 for k in kinds.values() if k == kind)
                      for kind in EXCLUSIVE_KINDS if kind in kinds.values()}
            described = ", ".join(f"{n} {k}" for k, n in counts.items())
            findings.append(FindingDraft(
                kind=self.kind,
                subject_type="source",
                subject_name=source,
                related=tuple(feature_ref(name) for name in built),
                severity="info",
                summary=(f"every feature built on it is legacy, bundled or epsilon "
                         f"({len(built)} feature{'' if len(built) == 1 else 's'}: {described})"),
                evidence={"features": kinds, "counts": counts},
            ))
        return sorted_findings(findings)


def _exclusive_findings(inp: AnalysisInput) -> list[FindingDraft]:
    from registry.analysis.detectors.bundled import BundledDetector
    from registry.analysis.detectors.epsilon import EpsilonDetector
    from registry.analysis.detectors.legacy import LegacyDetector

    found: list[FindingDraft] = []
    for detector in (LegacyDetector(), BundledDetector(), EpsilonDetector()):
        found.extend(detector.run(inp))
    return apply_precedence(found)
