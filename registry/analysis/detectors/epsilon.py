"""epsilon — features whose contribution to every model is negligible.

Rule (subject = the feature, ``related`` empty):

An active feature that is not a member of a bundle (see `base.bundles`) is epsilon when it has
importance evidence and its largest importance share over all consumers is below
``epsilon_share``. Share = the feature's effective importance / the sum of that consumer's
effective importances (its latest report); negative values count as 0, and so does computed
importance within noise of zero (`AnalysisInput.effective_value`). A consumer whose effective
importances sum to 0 gives no evidence. No importance evidence: no finding.

Redundant is not useless: when the feature's correlated cluster (connected component at
``correlated_threshold``) carries importance as a group — for some consumer the cluster's
share (computed group importance, or the sum of its members' shares) is at least
``epsilon_share`` — there is no epsilon finding; the correlated detector reports it.
Severity: info.
"""

from __future__ import annotations

from registry.analysis.detectors.base import (
    ClusterShares,
    cluster_shares,
    features_with_status,
    importance_evidence,
    percent,
    sorted_findings,
)
from registry.analysis.detectors.bundled import bundled_features
from registry.analysis.inputs import AnalysisInput, FindingDraft

__all__ = ["EpsilonDetector"]


class EpsilonDetector:
    kind = "epsilon"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        threshold = inp.settings.epsilon_share
        in_bundle = bundled_features(inp)
        cluster_of = cluster_shares(inp)
        findings: list[FindingDraft] = []
        for feature in features_with_status(inp, "active"):
            share = inp.max_share(feature.name)
            if feature.name in in_bundle or share is None or share >= threshold:
                continue
            group = cluster_of.get(feature.name)
            if group is None:
                group = ClusterShares((feature.name,), inp.group_shares((feature.name,)))
            if group.best >= threshold:
                continue
            cluster, group_shares = group.cluster, group.shares
            evidence_rows = importance_evidence(inp, feature.name)
            noise = sorted(row["consumer"] for row in evidence_rows
                           if row["effective"] == 0 and (row["value"] or 0) > 0)
            consumers = f"{len(evidence_rows)} consumer{'' if len(evidence_rows) == 1 else 's'}"
            findings.append(FindingDraft(
                kind=self.kind,
                subject_type="feature",
                subject_name=feature.name,
                severity="info",
                summary=(f"largest importance share {percent(share)} (below "
                         f"{percent(threshold)}) over {consumers}"
                         + ("; computed importance within noise of zero" if noise else "")),
                evidence={
                    "max_share": share,
                    "threshold": threshold,
                    "shares": inp.importance_shares.get(feature.name, {}),
                    "importance": evidence_rows,
                    "noise_as_zero": noise,
                    "correlated_cluster": list(cluster) if len(cluster) > 1 else [],
                    "cluster_shares": group_shares if len(cluster) > 1 else {},
                    "declared_by": list(inp.declared_by.get(feature.name, ())),
                },
            ))
        return sorted_findings(findings)
