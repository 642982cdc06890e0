"""legacy — features that no longer earn their keep because nobody reads them or a newer one
replaced them.

Rule (one finding per feature, subject = the feature):

* dead: an active or deprecated feature with no observed read by anyone in the
  ``legacy_window_days`` before ``now`` (reads after ``now`` are ignored), once ``now - created``
  is at least ``legacy_grace_days``. A feature created yesterday with no reads is not legacy.
  ``related`` is empty. A declared consumer that never reads does not count as a read.
* superseded: an active feature F and an active feature G created strictly later with
  |Pearson| or |Spearman| >= ``superseded_correlation``, where G's largest importance share is
  at least ``superseded_share`` and F's is below it (no importance evidence for F counts as 0).
  ``related`` = every such G.

When both hold, the finding is dead (``related`` empty) and the evidence also lists the
superseding features. Severity: warning.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from registry.analysis.detectors.base import (
    feature_ref,
    features_with_status,
    iso,
    percent,
    sorted_findings,
    strong_pairs,
)
from registry.analysis.inputs import AnalysisInput, FeatureInfo, FindingDraft

__all__ = ["LegacyDetector"]


class LegacyDetector:
    kind = "legacy"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        superseding = _superseding_features(inp)
        findings: list[FindingDraft] = []
        for feature in features_with_status(inp, "active", "deprecated"):
            newer = superseding.get(feature.name, [])
            if _is_dead(inp, feature):
                findings.append(self._dead(inp, feature, newer))
            elif newer:
                findings.append(self._superseded(inp, feature, newer))
        return sorted_findings(findings)

    def _dead(
        self, inp: AnalysisInput, feature: FeatureInfo, newer: list[dict[str, Any]]
    ) -> FindingDraft:
        last_read = inp.last_read(feature.name)
        window = inp.settings.legacy_window_days
        if last_read is None:
            summary = f"never read (created {feature.created.date().isoformat()})"
        else:
            summary = f"read by nobody since {last_read.date().isoformat()}"
        summary += f"; no reads in the last {window} days"
        return FindingDraft(
            kind=self.kind,
            subject_type="feature",
            subject_name=feature.name,
            severity="warning",
            summary=summary,
            evidence={
                "reason": "dead",
                "last_read": iso(last_read),
                "window_days": window,
                "grace_days": inp.settings.legacy_grace_days,
                "created": iso(feature.created),
                "now": iso(inp.now),
                "status": feature.status,
                "declared_by": list(inp.declared_by.get(feature.name, ())),
                "superseded_by": newer,
            },
        )

    def _superseded(
        self, inp: AnalysisInput, feature: FeatureInfo, newer: list[dict[str, Any]]
    ) -> FindingDraft:
        names = [entry["feature"] for entry in newer]
        own = inp.max_share(feature.name)
        return FindingDraft(
            kind=self.kind,
            subject_type="feature",
            subject_name=feature.name,
            related=tuple(feature_ref(n) for n in names),
            severity="warning",
            summary=(f"superseded by newer {', '.join(names)}, which carries the importance; "
                     f"its own largest share is {percent(own or 0.0)}"),
            evidence={
                "reason": "superseded",
                "superseded_by": newer,
                "max_share": own,
                "has_importance_evidence": own is not None,
                "share_threshold": inp.settings.superseded_share,
                "correlation_threshold": inp.settings.superseded_correlation,
                "created": iso(feature.created),
                "last_read": iso(inp.last_read(feature.name)),
                "declared_by": list(inp.declared_by.get(feature.name, ())),
            },
        )


def _is_dead(inp: AnalysisInput, feature: FeatureInfo) -> bool:
    settings = inp.settings
    if inp.now - feature.created < timedelta(days=settings.legacy_grace_days):
        return False
    last_read = inp.last_read(feature.name)
    return last_read is None or last_read < inp.now - timedelta(days=settings.legacy_window_days)


def _superseding_features(inp: AnalysisInput) -> dict[str, list[dict[str, Any]]]:
    """Older feature -> evidence about each newer feature that supersedes it."""
    settings = inp.settings
    result: dict[str, list[dict[str, Any]]] = {}
    for pair in strong_pairs(inp, settings.superseded_correlation):
        old, new = sorted((inp.features[pair.a], inp.features[pair.b]), key=lambda f: f.created)
        if old.created == new.created:
            continue
        new_share = inp.max_share(new.name)
        old_share = inp.max_share(old.name) or 0.0
        if new_share is None or new_share < settings.superseded_share:
            continue
        if old_share >= settings.superseded_share:
            continue
        result.setdefault(old.name, []).append({
            "feature": new.name,
            "created": iso(new.created),
            "max_share": new_share,
            "pearson": pair.pearson,
            "spearman": pair.spearman,
            "n": pair.n,
        })
    return {name: sorted(entries, key=lambda e: e["feature"]) for name, entries in result.items()}
