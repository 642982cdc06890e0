"""unstable_dependency — a feature whose values changed under its consumers (Sculley et al.'s
unstable data dependencies; the seconds-to-milliseconds story).

Rule (subject = the feature, ``related`` = every consumer that declares or reads it): the
latest snapshot that holds the feature, taken at or before the analysis time, against the
previous one (`registry.analysis.stability` for the figures):

* scale: the ratio of standard deviations and of median absolute values both ≥ 5 or ≤ 0.2;
* shift: population stability index ≥ 0.25 over the previous snapshot's deciles (not
  reported again when the change is a scale change);
* nulls: the null fraction went up by ≥ 0.10;
* constant: it varied, now it holds one value;
* categories: ≥ 20% of rows hold values never seen before (when the previous snapshot held
  every distinct value and they were not mostly unique, as identifiers are);
* correlation: it was ≥ 0.95 with one or more features and is now < 0.5 with every one of
  them, while those still agree with each other (≥ 0.95 among themselves); a pair with no third
  member that falls apart is reported on both features;
* expect: the latest snapshot breaks the feature's ``expect`` (> 1% of values outside
  min/max/values, or more nulls than max_null_fraction); this needs only one snapshot.

One finding per feature lists every change with its figures. Severity: critical when a
``production`` consumer is related, otherwise warning. Retired features are not judged.
"""

from __future__ import annotations

from typing import Any

from registry.analysis.detectors.base import iso, sorted_findings
from registry.analysis.inputs import AnalysisInput, FeatureInfo, FeatureSnapshot, FindingDraft
from registry.analysis.stability import Thresholds, compare_profiles, expect_breaks

__all__ = ["UnstableDependencyDetector"]


class UnstableDependencyDetector:
    kind = "unstable_dependency"

    def run(self, inp: AnalysisInput) -> list[FindingDraft]:
        history = {f: [s for s in h if s.taken_at <= inp.now]
                   for f, h in inp.snapshot_history.items()}
        thresholds = Thresholds.from_settings(inp.settings)
        broken_links = _correlation_breaks(history, thresholds)
        findings = []
        for name, feature in inp.features.items():
            if feature.status == "retired" or not history.get(name):
                continue
            finding = self._judge(inp, feature, history[name], broken_links.get(name),
                                  thresholds)
            if finding is not None:
                findings.append(finding)
        return sorted_findings(findings)

    def _judge(self, inp: AnalysisInput, feature: FeatureInfo, held: list[FeatureSnapshot],
               correlation: dict[str, Any] | None, t: Thresholds) -> FindingDraft | None:
        latest = held[0]
        previous = held[1] if len(held) > 1 else None
        changes: list[dict[str, Any]] = []
        if previous is not None:
            changes.extend(compare_profiles(previous.profile, latest.profile, t))
            if correlation is not None:
                changes.append(correlation)
        changes.extend(expect_breaks(latest.profile, feature.expect, t))
        if not changes:
            return None
        consumers = self._consumers(inp, feature.name)
        production = [c["name"] for c in consumers if c["stage"] == "production"]
        between = (f"between the snapshots of {latest_day(previous)} and {latest_day(latest)}"
                   if previous is not None else f"in the snapshot of {latest_day(latest)}")
        readers = ", ".join(f"{c['name']} ({c['stage']})" if c["stage"] else c["name"]
                            for c in consumers[:5]) or "no consumer"
        summary = (f"{'; '.join(c['words'] for c in changes)} {between}; read by {readers}")
        return FindingDraft(
            kind=self.kind,
            subject_type="feature",
            subject_name=feature.name,
            related=tuple(("consumer", c["name"]) for c in consumers),
            severity="critical" if production else "warning",
            summary=summary,
            evidence={
                "changes": changes,
                "kinds": sorted({c["kind"] for c in changes}),
                "latest_snapshot": latest.snapshot,
                "latest_snapshot_name": latest.name,
                "latest_taken_at": iso(latest.taken_at),
                "previous_snapshot": previous.snapshot if previous else None,
                "previous_snapshot_name": previous.name if previous else None,
                "previous_taken_at": iso(previous.taken_at) if previous else None,
                "consumers": consumers,
                "production_consumers": production,
                "expect": dict(feature.expect) if feature.expect else None,
                "owner": feature.owner,
            },
        )

    @staticmethod
    def _consumers(inp: AnalysisInput, feature: str) -> list[dict[str, Any]]:
        names = set(inp.declared_by.get(feature, ()))
        names.update(s.principal for s in inp.reads_by_feature.get(feature, ()))
        rows = []
        for name in sorted(names):
            info = inp.consumers.get(name)
            rows.append({"name": name, "stage": info.stage if info else None,
                         "declared": name in inp.declared_by.get(feature, ())})
        return rows


def latest_day(snapshot: FeatureSnapshot | None) -> str:
    return "?" if snapshot is None else snapshot.taken_at.strftime("%-d %B %Y")


def _strength(history: dict[str, list[FeatureSnapshot]], a: str, b: str) -> float | None:
    """How strongly a and b correlate in a's latest snapshot (None: unknown)."""
    held = history.get(a)
    if not held:
        return None
    return held[0].partners.get(b)


def _correlation_breaks(history: dict[str, list[FeatureSnapshot]], t: Thresholds
                        ) -> dict[str, dict[str, Any]]:
    """The correlation change of each feature that broke away from the features it was strongly
    correlated with in its previous snapshot (see the module docstring)."""
    before: dict[str, dict[str, float]] = {}
    for name, held in history.items():
        if len(held) > 1:
            before[name] = {p: r for p, r in held[1].partners.items()
                            if r is not None and r >= t.corr_strong and p in history}
    found: dict[str, dict[str, Any]] = {}
    for name, partners in before.items():
        if not partners:
            continue
        now = {p: _strength(history, name, p) for p in partners}
        if any(r is None or r >= t.corr_broken for r in now.values()):
            continue
        group = sorted(partners)
        if len(group) == 1:
            (other,) = group
            others_partners = set(before.get(other, {})) - {name}
            if others_partners and not all(
                    (_strength(history, other, q) or 0.0) >= t.corr_strong
                    for q in others_partners):
                continue  # the other side fell apart too: not this feature's break alone
        elif not all((_strength(history, p, q) or 0.0) >= t.corr_strong
                     for i, p in enumerate(group) for q in group[i + 1:]
                     if q in before.get(p, {})):
            continue  # the whole group fell apart: no member is the one that broke
        pairs = [{"feature": p, "before": partners[p], "after": now[p]} for p in group]
        shown = ", ".join(f"{p} {partners[p]:.2f}→{(now[p] or 0.0):.2f}" for p in group)
        found[name] = {"kind": "correlation", "pairs": pairs,
                       "words": f"its correlation broke ({shown})"}
    return found
