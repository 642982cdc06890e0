"""Read models for data health: the open findings of the three data-health kinds by team, and
a feature's statistics over time (one row per snapshot that holds it)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, select
from sqlalchemy.orm import Session

from registry.read.common import iso, run
from registry.store import models as m

HEALTH_KINDS = ("unstable_dependency", "stale_source", "unready_dependency")
OPEN = ("open", "acknowledged")


def data_health(session: Session) -> dict[str, Any]:
    """Open (and acknowledged) findings of the data-health kinds, grouped by owning team."""
    rows = session.scalars(select(m.Finding).where(m.Finding.kind.in_(HEALTH_KINDS),
                                                   m.Finding.status.in_(OPEN))
                           .order_by(m.Finding.owner, m.Finding.kind, m.Finding.subject_name))
    teams: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {k: [] for k in HEALTH_KINDS})
    counts = dict.fromkeys(HEALTH_KINDS, 0)
    for f in rows:
        teams[f.owner or "(no team)"][f.kind].append({
            "id": f.id, "subject": {"type": f.subject_type, "name": f.subject_name},
            "severity": f.severity, "status": f.status, "summary": f.summary,
            "related": f.related, "last_seen": iso(f.last_seen)})
        counts[f.kind] += 1
    return {"kinds": list(HEALTH_KINDS), "counts": counts,
            "teams": [{"team": t, "findings": k} for t, k in sorted(teams.items())]}


STATS_HISTORY = (
    select(m.Snapshot.id, m.Snapshot.name, m.Snapshot.taken_at, m.Snapshot.created_at,
           m.SnapshotFeatureStats.profile)
    .join(m.SnapshotFeatureStats, m.SnapshotFeatureStats.snapshot_id == m.Snapshot.id)
    .where(m.SnapshotFeatureStats.feature == bindparam("feature", type_=String))
    .order_by(func.coalesce(m.Snapshot.taken_at, m.Snapshot.created_at).desc(),
              m.Snapshot.id.desc())
    .limit(bindparam("limit", type_=Integer)))


def feature_stats_history(session: Session, feature: str, *, limit: int = 50
                          ) -> list[dict[str, Any]]:
    """The feature's statistics in each snapshot that holds it, oldest first (at most
    ``limit``, the newest)."""
    rows = run(session, STATS_HISTORY, {"feature": feature, "limit": limit}).all()
    history = []
    for sid, name, taken_at, created_at, profile in reversed(rows):
        p = profile or {}
        sketch = p.get("sketch") or []
        top = sorted((p.get("categories") or {}).items(), key=lambda kv: -kv[1])[:3]
        history.append({
            "snapshot": sid, "name": name, "taken_at": iso(taken_at or created_at),
            "rows": p.get("rows"), "null_fraction": p.get("null_fraction"),
            "distinct": p.get("distinct"), "std": p.get("std"),
            "median_abs": p.get("median_abs"),
            "p10": sketch[10] if len(sketch) > 90 else None,
            "p50": sketch[50] if len(sketch) > 90 else None,
            "p90": sketch[90] if len(sketch) > 90 else None,
            "top_categories": [{"value": k, "share": v} for k, v in top],
        })
    return history


CHART_W, CHART_H = 160, 36


def stats_charts(history: list[dict[str, Any]], expect: dict[str, Any] | None
                 ) -> list[dict[str, Any]]:
    """Small line charts of each statistic over the snapshots: SVG points (each snapshot a
    marker) and, where the feature's ``expect`` bounds the statistic, that line's height."""
    expect = expect or {}
    charts = []
    limits = {"null_fraction": [expect.get("max_null_fraction")],
              "p10": [expect.get("min")], "p90": [expect.get("max")]}
    for stat, label in (("null_fraction", "null fraction"), ("std", "std"),
                        ("median_abs", "median |x|"), ("p10", "10th percentile"),
                        ("p50", "median"), ("p90", "90th percentile"), ("distinct", "distinct")):
        values = [h.get(stat) for h in history]
        known = [float(v) for v in values if isinstance(v, int | float)]
        if not known:
            continue
        lines = [float(v) for v in limits.get(stat, []) if v is not None]
        low, high = min(known + lines), max(known + lines)
        span = (high - low) or 1.0
        step = CHART_W / max(len(values) - 1, 1)

        def y(v: float, low: float = low, span: float = span) -> float:
            return round(CHART_H - 3 - (v - low) / span * (CHART_H - 6), 1)

        points = [(round(i * step, 1), y(float(v))) for i, v in enumerate(values)
                  if isinstance(v, int | float)]
        charts.append({"stat": stat, "label": label, "width": CHART_W, "height": CHART_H,
                       "points": " ".join(f"{x},{yy}" for x, yy in points),
                       "markers": [{"x": x, "y": yy} for x, yy in points],
                       "expect": [y(v) for v in lines], "last": known[-1]})
    return charts
