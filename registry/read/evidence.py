"""Read side of the evidence: who reads a feature, how often, what it is worth, what it copies.

Reads come from the daily usage rollups (`usage_daily`), importance from stored importance
reports (reported or computed), correlations from snapshots. Everything is JSON-ready.
The queries are per object (one feature, one principal) and use the rollup indexes, so a page
costs the same on a catalog of 150 or 100,000 features; the catalog-wide helpers of
`registry.evidence` serve the analysis and are reused where they fit (daily reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Date, String, bindparam, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from registry.evidence.rollups import daily_reads
from registry.read.common import iso, run
from registry.store import models as m

RECENT_DAYS = 30


_RECENT = func.sum(case((m.UsageDaily.day >= bindparam("since", type_=Date),
                         m.UsageDaily.reads), else_=0))
FEATURE_READERS = (
    select(m.UsageDaily.principal, func.sum(m.UsageDaily.reads), _RECENT,
           func.min(m.UsageDaily.first_read), func.max(m.UsageDaily.last_read),
           func.max(case((m.Consumer.id.is_not(None), 1), else_=0)))
    .outerjoin(m.Consumer, m.Consumer.name == m.UsageDaily.principal)
    .where(m.UsageDaily.feature == bindparam("feature", type_=String))
    .group_by(m.UsageDaily.principal))
"""Built once: the statements of a page are parameters, not new SQL expressions per request
(building and keying them cost milliseconds a page)."""


def feature_readers(session: Session, feature: str, declared: Iterable[str], *,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Observed readers of a feature (all history), each flagged declared / undeclared.

    Declared consumers that never read it are listed too (with zero reads) so the page can put
    the declaration next to the observation.
    """
    since = ((now or datetime.now(UTC)) - timedelta(days=RECENT_DAYS)).date()
    rows = run(session, FEATURE_READERS, {"feature": feature, "since": since}).all()
    declared_set = set(declared)
    readers: dict[str, dict[str, Any]] = {}
    for principal, total, recent_reads, first, last, is_consumer in rows:
        readers[principal] = {
            "principal": principal, "reads": int(total or 0),
            "recent_reads": int(recent_reads or 0), "first_read": iso(first),
            "last_read": iso(last), "declared": principal in declared_set,
            "registered": bool(is_consumer) or principal in declared_set,
        }
    for name in declared_set - set(readers):
        readers[name] = {"principal": name, "reads": 0, "recent_reads": 0, "first_read": None,
                         "last_read": None, "declared": True, "registered": True}
    return sorted(readers.values(), key=lambda r: (r["declared"], -r["reads"], r["principal"]))


def declared_consumers(session: Session, feature: str) -> set[str]:
    """Names of the consumers that declare a feature."""
    return set(session.scalars(
        select(m.Consumer.name)
        .join(m.ConsumerFeature, m.ConsumerFeature.consumer_id == m.Consumer.id)
        .join(m.Feature, m.Feature.id == m.ConsumerFeature.feature_id)
        .where(m.Feature.name == feature)))


def usage_series(session: Session, feature: str) -> list[dict[str, Any]]:
    """Daily reads of a feature per principal: [{day, principal, reads}], by day."""
    return [{"day": row.day.isoformat(), "principal": row.principal, "reads": int(row.reads)}
            for row in daily_reads(session, feature=feature)]


def features_read_by(session: Session, principal: str, *, now: datetime | None = None
                     ) -> list[dict[str, Any]]:
    """What one principal reads: [{feature, reads, recent_reads, last_read}] by feature."""
    since = ((now or datetime.now(UTC)) - timedelta(days=RECENT_DAYS)).date()
    recent = func.sum(case((m.UsageDaily.day >= since, m.UsageDaily.reads), else_=0))
    rows = run(session,
        select(m.UsageDaily.feature, func.sum(m.UsageDaily.reads), recent,
               func.max(m.UsageDaily.last_read))
        .where(m.UsageDaily.principal == principal).group_by(m.UsageDaily.feature)
        .order_by(m.UsageDaily.feature))
    return [{"feature": f, "reads": int(n or 0), "recent_reads": int(r or 0),
             "last_read": iso(last)} for f, n, r, last in rows]


def _importance_rows() -> Any:
    """Every stored importance of the feature `:feature`, with the sum of the positive values
    of its report (a correlated subquery: one primary-key range scan per row), in one query
    (built once)."""
    value = m.ImportanceReportValue
    other = aliased(m.ImportanceReportValue)
    total = (select(func.sum(case((other.value > 0, other.value), else_=0.0)))
             .where(other.report_id == value.report_id).scalar_subquery())
    return (select(m.ImportanceReport.consumer, m.ImportanceReport.reported_at,
                   m.ImportanceReport.method, m.ImportanceReport.source, value.value,
                   value.std, total)
            .join(value, value.report_id == m.ImportanceReport.id)
            .where(value.feature == bindparam("feature", type_=String))
            .order_by(m.ImportanceReport.consumer, m.ImportanceReport.reported_at))


IMPORTANCE_ROWS = _importance_rows()


def importance_series(session: Session, feature: str) -> list[dict[str, Any]]:
    """Every stored importance of a feature: [{consumer, ts, value, share, method, source}].

    ``share`` is the value over the sum of the positive values in the same report (the
    quantity the epsilon and bundled detectors compare with their thresholds).
    """
    series = []
    for consumer, ts, method, source, value, std, total in run(session, IMPORTANCE_ROWS,
                                                               {"feature": feature}):
        total = float(total or 0.0)
        share = max(value, 0.0) / total if total > 0 else None
        series.append({"consumer": consumer, "ts": iso(ts), "value": value, "std": std,
                       "share": share, "method": method, "source": source})
    return series


def latest_importance(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest entry per consumer of an `importance_series`, by consumer."""
    latest: dict[str, dict[str, Any]] = {}
    for row in series:
        held = latest.get(row["consumer"])
        if held is None or (row["ts"] or "") >= (held["ts"] or ""):
            latest[row["consumer"]] = row
    return [latest[c] for c in sorted(latest)]


CORRELATED = (
    select(m.SnapshotCorrelation.a, m.SnapshotCorrelation.b, m.SnapshotCorrelation.pearson,
           m.SnapshotCorrelation.spearman, m.SnapshotCorrelation.n, m.Snapshot.name,
           m.Snapshot.created_at)
    .join(m.Snapshot, m.Snapshot.id == m.SnapshotCorrelation.snapshot_id)
    .where(or_(m.SnapshotCorrelation.a == bindparam("feature", type_=String),
               m.SnapshotCorrelation.b == bindparam("feature", type_=String)))
    .order_by(m.Snapshot.created_at.desc(), m.Snapshot.id.desc()))


def correlated_partners(session: Session, feature: str, *, limit: int = 50
                        ) -> list[dict[str, Any]]:
    """Features correlated with this one in the newest snapshot that measured each pair."""
    rows = run(session, CORRELATED, {"feature": feature}).all()
    partners: dict[str, dict[str, Any]] = {}
    for a, b, pearson, spearman, n, snapshot, created in rows:
        partner = b if a == feature else a
        if partner in partners:
            continue
        strength = max((abs(v) for v in (pearson, spearman) if v is not None), default=0.0)
        partners[partner] = {"feature": partner, "pearson": pearson, "spearman": spearman,
                             "strength": strength, "n": n, "snapshot": snapshot,
                             "measured_at": iso(created)}
    ranked = sorted(partners.values(), key=lambda p: (-p["strength"], p["feature"]))
    return ranked[:limit]
