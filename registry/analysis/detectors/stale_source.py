"""stale_source — a source that stopped updating (Zinkevich's rule 8: know how stale each
input may be; rule 10: silent failures).

Rule (subject = the source, ``related`` = every registered consumer that depends on it,
transitively: through the features built on it, their ``depends_on`` and the model outputs of
consumers that read them): a source that declares ``freshness`` and whose latest update at or
before the analysis time is older than that. Updates are COMPLETE OpenLineage runs that wrote
it and reported refreshes (`registry.evidence.freshness`); running, failed and aborted runs
are not updates, and updates after the analysis time are ignored.

A source that declares freshness and has never been updated is stale too, except during its
first ``freshness`` in the catalog (registered after ``now - freshness``, at or before ``now``):
a new source has not had its first chance to be written yet.

Severity: critical when a ``production`` consumer depends on it, otherwise warning.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx

from registry.analysis.detectors.base import iso, reachable, sorted_findings
from registry.analysis.inputs import AnalysisInput, FindingDraft, SourceInfo
from registry.core.durations import InvalidDuration, format_duration, parse_duration

__all__ = ["StaleSourceDetector", "dependent_consumers"]


def dependent_consumers(graph: nx.DiGraph, source: str) -> list[str]:
    """Consumers that depend on ``source`` transitively, sorted."""
    return reachable(graph, "source", source, "consumer", downstream=True)


class StaleSourceDetector:
    kind = "stale_source"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        findings = []
        for source in inp.sources.values():
            finding = self._judge(inp, source)
            if finding is not None:
                findings.append(finding)
        return sorted_findings(findings)

    def _judge(self, inp: AnalysisInput, source: SourceInfo) -> FindingDraft | None:
        if not source.freshness:
            return None
        try:
            sla = parse_duration(source.freshness)
        except InvalidDuration:
            return None
        now = inp.now
        last = source.last_update if (source.last_update is not None
                                      and source.last_update <= now) else None
        if last is not None:
            age: timedelta | None = now - last
            if age is not None and age <= sla:
                return None
        else:
            age = None
            if source.registered is not None and now - sla < source.registered <= now:
                return None  # new: it has not had its first chance to be written yet
        consumers = dependent_consumers(inp.graph, source.name)
        production = [c for c in consumers
                      if c in inp.consumers and inp.consumers[c].stage == "production"]
        if age is None:
            summary = (f"declares freshness {source.freshness} but no update has been "
                       f"observed")
        else:
            summary = (f"last updated {format_duration(age)} ago ({_day(last)}), freshness "
                       f"is {source.freshness}: overdue by {format_duration(age - sla)}")
        if consumers:
            summary += f"; {len(consumers)} consumer{'s' if len(consumers) != 1 else ''} " \
                       f"depend on it"
        return FindingDraft(
            kind=self.kind,
            subject_type="source",
            subject_name=source.name,
            related=tuple(("consumer", c) for c in consumers),
            severity="critical" if production else "warning",
            summary=summary,
            evidence={
                "freshness": source.freshness,
                "freshness_seconds": sla.total_seconds(),
                "last_update": iso(last),
                "age_seconds": None if age is None else age.total_seconds(),
                "overdue_seconds": None if age is None else (age - sla).total_seconds(),
                "never_updated": last is None,
                "registered": iso(source.registered),
                "owner": source.owner,
                "consumers": consumers,
                "production_consumers": production,
            },
        )


def _day(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")
