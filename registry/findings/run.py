"""One analysis run: evidence refresh, the detectors, and the findings written in one go.

The detectors are pure; this service loads their input, runs them, and merges their drafts
into the stored findings. It works in the caller's unit of work (the CLI command, the job,
the demo open it) and never commits: evidence refresh and findings land together, and a crash
mid-run leaves the previous run's findings exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from registry.analysis.detectors import run_detectors
from registry.analysis.inputs import AnalysisInput
from registry.core.settings import Settings
from registry.findings.evidence_loader import refresh_evidence
from registry.findings.input_loader import load_analysis_input
from registry.findings.records import RunSummary, record_findings
from registry.store import models as m

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AnalysisResult:
    run_id: int
    analysis_time: datetime
    summary: RunSummary
    evidence: dict[str, object]


def _owners(inp: AnalysisInput) -> dict[tuple[str, str], str | None]:
    """The team owning each possible finding subject (unregistered principals: none)."""
    owners: dict[tuple[str, str], str | None] = {}
    for type_, objects in (("feature", inp.features), ("source", inp.sources),
                           ("consumer", inp.consumers)):
        for name, info in objects.items():
            owners[(type_, name)] = info.owner or None
    return owners


def run_analysis(
    session: Session, *, now: datetime | None = None, settings: Settings | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Refresh evidence (computed importance for new snapshots), detect, record: all in
    ``session``, which the caller commits."""
    now = now or datetime.now(UTC)
    settings = settings or Settings.from_env()
    say = progress or (lambda _msg: None)
    say("refreshing evidence: rollups, snapshot statistics, computed importance")
    evidence = refresh_evidence(session, now=now, settings=settings)
    say("running detectors")
    inp = load_analysis_input(session, now=now, settings=settings)
    drafts = run_detectors(inp)
    say(f"recording {len(drafts)} findings")
    run = m.AnalysisRun(analysis_time=now, started_at=datetime.now(UTC))
    session.add(run)
    session.flush()
    summary = record_findings(session, drafts, run=run, now=now, owners=_owners(inp))
    run.finished_at = datetime.now(UTC)
    run.summary = {"findings": summary.to_dict(), "evidence": evidence}
    session.flush()
    return AnalysisResult(run.id, now, summary, evidence)
