"""undocumented — features nobody described.

Rule (subject = the feature, ``related`` empty): an active or deprecated feature whose
description is empty or only whitespace. Retired features are not reported. Severity: info.
"""

from __future__ import annotations

from registry.analysis.detectors.base import features_with_status, sorted_findings
from registry.analysis.inputs import AnalysisInput, FindingDraft

__all__ = ["UndocumentedDetector"]


class UndocumentedDetector:
    kind = "undocumented"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        findings = [
            FindingDraft(
                kind=self.kind,
                subject_type="feature",
                subject_name=feature.name,
                severity="info",
                summary=f"no description (owner {feature.owner or 'unknown'})",
                evidence={"owner": feature.owner, "status": feature.status,
                          "declared_by": list(inp.declared_by.get(feature.name, ()))},
            )
            for feature in features_with_status(inp, "active", "deprecated")
            if not feature.description.strip()
        ]
        return sorted_findings(findings)
