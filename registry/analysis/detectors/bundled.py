"""bundled — features that arrived together with valuable ones but add nothing themselves.

Rule (subject = the feature, one finding per flagged member):

A bundle is an explicit ``bundle:`` name, or the features one change set (an apply or SDK
batch) first registered without an explicit bundle, when that change set registered between
``bundle_changeset_min`` and ``bundle_changeset_max`` features (a bulk import of more is not a
bundle). Only bundles of at least ``bundle_min_size`` features count (see `base.bundles`).

An active member is bundled when it has importance evidence for at least one consumer and its
share is below ``bundle_member_share`` for every consumer with evidence, unless its correlated
cluster (at ``correlated_threshold``) carries at least that share as a group for some consumer:
such a member is redundant, not worthless, and the correlated detector reports it (DESIGN.md,
"every detector that reads importance judges a feature together with its correlated cluster").
Without that rule a bundle of correlated measurements (radius, perimeter, area) whose group
importance is real would be flagged whole, since permuting any one of them costs nothing.
The bundle's valuable
members (largest share at or above the threshold) are ``related``; the evidence names the
bundle, its members and where its importance sits. A member without importance evidence is
never flagged. Severity: info.
"""

from __future__ import annotations

from registry.analysis.detectors.base import (
    Bundle,
    ClusterShares,
    bundles,
    cluster_shares,
    feature_ref,
    percent,
    sorted_findings,
)
from registry.analysis.inputs import AnalysisInput, FindingDraft

__all__ = ["BundledDetector", "bundled_features"]


class BundledDetector:
    kind = "bundled"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        threshold = inp.settings.bundle_member_share
        clusters = cluster_shares(inp)
        findings: list[FindingDraft] = []
        for bundle in bundles(inp):
            member_shares = {name: inp.max_share(name) for name in bundle.members}
            valuable = sorted(n for n, s in member_shares.items() if s is not None
                              and s >= threshold)
            for name in bundle.members:
                share = member_shares[name]
                if inp.features[name].status != "active" or share is None or share >= threshold:
                    continue
                group = clusters.get(name)
                if group is not None and group.best >= threshold:
                    continue
                findings.append(self._finding(inp, bundle, name, valuable, member_shares,
                                              group))
        return sorted_findings(findings)

    def _finding(
        self,
        inp: AnalysisInput,
        bundle: Bundle,
        name: str,
        valuable: list[str],
        member_shares: dict[str, float | None],
        group: ClusterShares | None,
    ) -> FindingDraft:
        share = member_shares[name]
        if valuable:
            where = f"its importance sits in {', '.join(valuable)}"
        else:
            where = "no member carries importance"
        return FindingDraft(
            kind=self.kind,
            subject_type="feature",
            subject_name=name,
            related=tuple(feature_ref(v) for v in valuable),
            severity="info",
            summary=(f"arrived in bundle {bundle.name} ({len(bundle.members)} features; "
                     f"{where}) and adds at most {percent(share)} importance share"),
            evidence={
                "bundle": bundle.name,
                "bundle_origin": bundle.origin,
                "changeset": bundle.changeset,
                "changeset_size": bundle.changeset_size,
                "members": list(bundle.members),
                "valuable_members": valuable,
                "member_max_shares": member_shares,
                "shares": inp.importance_shares.get(name, {}),
                "max_share": share,
                "threshold": inp.settings.bundle_member_share,
                "correlated_cluster": list(group.cluster) if group else [],
                "cluster_shares": group.shares if group else {},
            },
        )


def bundled_features(inp: AnalysisInput) -> set[str]:
    """Names of the features that are members of a bundle (as `bundles` defines one)."""
    return {name for bundle in bundles(inp) for name in bundle.members}
