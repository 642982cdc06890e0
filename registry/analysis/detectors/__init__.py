"""The detector registry: every finding kind of DESIGN.md, one module each.

`DETECTORS` lists them in report order; `run_detectors` runs them all on one analysis input:
first the plain detectors, then the precedence rule (a feature gets at most one of legacy /
bundled / epsilon, in that order), then the follow-up detectors that read those findings
(underutilized_source). Adding a detector means one module and one line here.
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.analysis.detectors.base import Detector, FollowUpDetector
from registry.analysis.detectors.bundled import BundledDetector
from registry.analysis.detectors.correlated import CorrelatedDetector
from registry.analysis.detectors.deprecated_in_use import DeprecatedInUseDetector
from registry.analysis.detectors.epsilon import EpsilonDetector
from registry.analysis.detectors.feedback_loop import FeedbackLoopDetector
from registry.analysis.detectors.legacy import LegacyDetector
from registry.analysis.detectors.precedence import EXCLUSIVE_KINDS, apply_precedence
from registry.analysis.detectors.stale_source import StaleSourceDetector
from registry.analysis.detectors.undeclared_consumer import UndeclaredConsumerDetector
from registry.analysis.detectors.underutilized_source import UnderutilizedSourceDetector
from registry.analysis.detectors.undocumented import UndocumentedDetector
from registry.analysis.detectors.unready_dependency import UnreadyDependencyDetector
from registry.analysis.detectors.unstable_dependency import UnstableDependencyDetector
from registry.analysis.inputs import AnalysisInput, FindingDraft

__all__ = [
    "DETECTORS",
    "EXCLUSIVE_KINDS",
    "KINDS",
    "Detector",
    "FollowUpDetector",
    "apply_precedence",
    "run_detectors",
]

DETECTORS: list[Detector | FollowUpDetector] = [
    LegacyDetector(),
    BundledDetector(),
    EpsilonDetector(),
    CorrelatedDetector(),
    UndeclaredConsumerDetector(),
    FeedbackLoopDetector(),
    DeprecatedInUseDetector(),
    UndocumentedDetector(),
    UnderutilizedSourceDetector(),
    UnstableDependencyDetector(),
    StaleSourceDetector(),
    UnreadyDependencyDetector(),
]

KINDS: tuple[str, ...] = tuple(d.kind for d in DETECTORS)
"""Every finding kind, in report order."""


def run_detectors(
    inp: AnalysisInput, detectors: Sequence[Detector | FollowUpDetector] | None = None
) -> list[FindingDraft]:
    """All findings of one analysis, grouped by detector in registry order, each group sorted.

    ``detectors`` picks a subset (default: `DETECTORS`); a follow-up detector whose inputs are
    not all in the subset computes them itself.

    Raises ValueError if two findings share a fingerprint (a detector bug: identities must be
    unique so the findings store can match them across runs).
    """
    chosen = list(DETECTORS if detectors is None else detectors)
    found: dict[str, list[FindingDraft]] = {}
    for detector in chosen:
        if not isinstance(detector, FollowUpDetector):
            found[detector.kind] = list(detector.run(inp))
    kept = set(map(id, apply_precedence(f for group in found.values() for f in group)))
    found = {kind: [f for f in group if id(f) in kept] for kind, group in found.items()}
    prior = [f for group in found.values() for f in group]
    for detector in chosen:
        if isinstance(detector, FollowUpDetector):
            complete = all(kind in found for kind in detector.uses_findings)
            found[detector.kind] = list(detector.run(inp, prior if complete else None))
    findings = [f for detector in chosen for f in found[detector.kind]]
    seen: dict[str, FindingDraft] = {}
    for finding in findings:
        duplicate = seen.setdefault(finding.fingerprint, finding)
        if duplicate is not finding:
            raise ValueError(f"two findings share the fingerprint of {finding.kind} "
                             f"{finding.subject_type}:{finding.subject_name}")
    return findings
