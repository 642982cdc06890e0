"""The hourly freshness check: which sources are stale now, and whether the findings say so.

The daily analysis records every finding kind; a source that goes stale at 03:00 should not wait
for the next night. This check runs only the `stale_source` detector on the catalog (no usage,
importance or snapshot evidence is loaded, so it stays cheap at any size) and, when the set of
stale sources differs from the active `stale_source` findings, runs the whole analysis so the
findings (pages, API, weekly report) agree with the world: one analysis, one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.analysis.detectors.stale_source import StaleSourceDetector
from registry.analysis.inputs import AnalysisInput
from registry.catalog.state import load_state
from registry.core.settings import Settings
from registry.findings.input_loader import load_catalog
from registry.findings.records import ACTIVE
from registry.findings.run import run_analysis
from registry.store import models as m

__all__ = ["FreshnessCheck", "check_freshness", "stale_sources"]


@dataclass(frozen=True)
class FreshnessCheck:
    stale: list[str]
    """Sources stale at the check's time, sorted."""
    recorded: list[str]
    """Sources with an active stale_source finding before the check, sorted."""
    analysis_run: int | None
    """The analysis run the check started because the two differed; None when they agreed."""

    def to_dict(self) -> dict[str, object]:
        return {"stale": self.stale, "recorded": self.recorded,
                "analysis_run": self.analysis_run}


def stale_sources(session: Session, *, now: datetime, settings: Settings) -> list[str]:
    """The sources the `stale_source` detector flags at ``now`` (catalog and updates only)."""
    features, sources, consumers, sizes = load_catalog(session, load_state(session), now=now)
    inp = AnalysisInput.build(now=now, settings=settings, features=features, sources=sources,
                              consumers=consumers, changeset_sizes=sizes)
    return sorted({draft.subject_name for draft in StaleSourceDetector().run(inp)})


def check_freshness(session: Session, *, now: datetime, settings: Settings) -> FreshnessCheck:
    """Compare the stale sources with the recorded findings; analyse again when they differ."""
    stale = stale_sources(session, now=now, settings=settings)
    recorded = sorted(session.scalars(
        select(m.Finding.subject_name).where(m.Finding.kind == "stale_source",
                                             m.Finding.status.in_(ACTIVE))))
    run_id = None
    if stale != recorded:
        run_id = run_analysis(session, now=now, settings=settings).run_id
    return FreshnessCheck(stale=stale, recorded=recorded, analysis_run=run_id)
