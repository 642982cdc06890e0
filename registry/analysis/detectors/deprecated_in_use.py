"""deprecated_in_use — deprecated or retired features that are still read.

Rule (subject = the feature, ``related`` empty so the finding keeps its identity while readers
come and go; the readers are in the evidence):

A deprecated or retired feature with at least one read within the usage window
(``usage_window_days`` back from ``now``), by any principal. Evidence: who read it, how often,
when last, whether the reader declares it, the sunset date and replacement.

Severity: critical when the feature is retired or its sunset date has passed; else warning.
"""

from __future__ import annotations

from registry.analysis.detectors.base import iso, sorted_findings
from registry.analysis.inputs import AnalysisInput, FindingDraft, Severity

__all__ = ["DeprecatedInUseDetector"]


class DeprecatedInUseDetector:
    kind = "deprecated_in_use"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        findings: list[FindingDraft] = []
        today = inp.now.date()
        for name, feature in sorted(inp.features.items()):
            if feature.status not in ("deprecated", "retired"):
                continue
            readers = [s for s in inp.reads_by_feature.get(name, ()) if inp.is_current(s)]
            if not readers:
                continue
            past_sunset = feature.sunset is not None and feature.sunset < today
            severity: Severity = (
                "critical" if feature.status == "retired" or past_sunset else "warning")
            total = sum(s.count for s in readers)
            declared = set(inp.declared_by.get(name, ()))
            who = ", ".join(s.principal for s in readers[:5])
            if len(readers) > 5:
                who += f" and {len(readers) - 5} more"
            summary = f"{feature.status} but read {total} times by {who}"
            if feature.sunset is not None:
                summary += f" (sunset {feature.sunset.isoformat()})"
            if feature.replacement:
                summary += f"; use {feature.replacement}"
            findings.append(FindingDraft(
                kind=self.kind,
                subject_type="feature",
                subject_name=name,
                severity=severity,
                summary=summary,
                evidence={
                    "status": feature.status,
                    "sunset": None if feature.sunset is None else feature.sunset.isoformat(),
                    "past_sunset": past_sunset,
                    "replacement": feature.replacement,
                    "total_reads": total,
                    "readers": [
                        {"principal": s.principal, "count": s.count,
                         "last_read": iso(s.last_read), "declared": s.principal in declared}
                        for s in readers
                    ],
                    "window_days": inp.settings.usage_window_days,
                },
            ))
        return sorted_findings(findings)
