"""feedback_loop — consumers whose inputs depend on their own outputs.

Rule (one finding per elementary cycle, subject = the cycle's alphabetically smallest
consumer, ``related`` = every other node of the cycle):

Every elementary cycle of the catalog graph (`registry.analysis.graph`) is a feedback loop:
consumer → produced source → feature (→ derived features via ``depends_on``) → declaring
consumer → ... → the first consumer. A cycle through one consumer is direct (a model reads a
feature built from its own output); through several it is hidden (through other models).
Only declared edges count: ``produces``/``produced_by``, feature sources, ``depends_on`` and
declared features. The evidence lists the cycle in order, starting at the subject. Two cycles
over the same set of nodes share one finding (their identity would coincide); its evidence
lists both. At most ``feedback_max_cycles`` cycles are enumerated. Severity: warning.
"""

from __future__ import annotations

from typing import Any

from registry.analysis.detectors.base import sorted_findings
from registry.analysis.graph import feedback_cycles, parse_node
from registry.analysis.inputs import AnalysisInput, FindingDraft

__all__ = ["FeedbackLoopDetector"]


class FeedbackLoopDetector:
    kind = "feedback_loop"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        by_nodes: dict[tuple[str, ...], list[list[str]]] = {}
        for cycle in feedback_cycles(inp.graph, inp.settings.feedback_max_cycles):
            by_nodes.setdefault(tuple(sorted(cycle)), []).append(cycle)
        findings = [self._finding(cycles) for cycles in by_nodes.values()]
        return sorted_findings(findings)

    def _finding(self, cycles: list[list[str]]) -> FindingDraft:
        first = cycles[0]
        subject_type, subject_name = parse_node(first[0])
        consumers = [parse_node(n)[1] for n in first if parse_node(n)[0] == "consumer"]
        ordered: list[list[dict[str, Any]]] = [
            [{"type": t, "name": n} for t, n in map(parse_node, cycle)] for cycle in cycles
        ]
        path = " → ".join(parse_node(n)[1] for n in [*first, first[0]])
        hidden = len(consumers) > 1
        summary = (f"{'hidden' if hidden else 'direct'} feedback loop"
                   f"{' through ' + ', '.join(consumers[1:]) if hidden else ''}: {path}")
        return FindingDraft(
            kind=self.kind,
            subject_type=subject_type,
            subject_name=subject_name,
            related=tuple(parse_node(n) for n in first[1:]),
            severity="warning",
            summary=summary,
            evidence={
                "cycle": ordered[0],
                "other_cycles": ordered[1:],
                "consumers": consumers,
                "hidden": hidden,
                "length": len(consumers),
            },
        )
