"""undeclared_consumer — principals that read features they never declared.

Rule (one finding per principal, subject = ("consumer", principal), ``related`` = the features
it read without declaring):

A principal is any name usage was observed under: a registered consumer or not. A read counts
when it falls within the usage window (``usage_window_days`` back from ``now``) and is of a
feature in the catalog. A registered consumer's declared features are its ``features``; an
unregistered principal has declared nothing. A consumer that declares features but never reads
them gets no finding here.

Severity: critical when a read feature is retired; warning when the principal is not registered
at all or a read feature is deprecated; info otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from registry.analysis.detectors.base import feature_ref, iso, sorted_findings
from registry.analysis.inputs import AnalysisInput, FindingDraft, ReadStat, Severity

__all__ = ["UndeclaredConsumerDetector"]


class UndeclaredConsumerDetector:
    kind = "undeclared_consumer"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        undeclared: dict[str, list[ReadStat]] = defaultdict(list)
        for feature, stats in inp.reads_by_feature.items():
            if feature not in inp.features:
                continue
            for stat in stats:
                consumer = inp.consumers.get(stat.principal)
                declared = consumer.features if consumer is not None else ()
                if inp.is_current(stat) and feature not in declared:
                    undeclared[stat.principal].append(stat)
        findings = [self._finding(inp, principal, stats)
                    for principal, stats in sorted(undeclared.items())]
        return sorted_findings(findings)

    def _finding(self, inp: AnalysisInput, principal: str, stats: list[ReadStat]) -> FindingDraft:
        consumer = inp.consumers.get(principal)
        registered = consumer is not None and consumer.registered
        stats = sorted(stats, key=lambda s: s.feature)
        statuses = {s.feature: inp.features[s.feature].status for s in stats}
        severity: Severity = "info"
        if "retired" in statuses.values():
            severity = "critical"
        elif not registered or "deprecated" in statuses.values():
            severity = "warning"
        names = [s.feature for s in stats]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        who = principal if registered else f"{principal} (not a registered consumer)"
        reads: list[dict[str, Any]] = [
            {"feature": s.feature, "count": s.count, "last_read": iso(s.last_read),
             "status": statuses[s.feature]}
            for s in stats
        ]
        return FindingDraft(
            kind=self.kind,
            subject_type="consumer",
            subject_name=principal,
            related=tuple(feature_ref(n) for n in names),
            severity=severity,
            summary=(f"{who} read {len(names)} undeclared feature"
                     f"{'' if len(names) == 1 else 's'}: {shown}"),
            evidence={
                "registered": registered,
                "reads": reads,
                "declared": list(consumer.features) if consumer is not None else [],
                "window_days": inp.settings.usage_window_days,
            },
        )
