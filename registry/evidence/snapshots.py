"""Data snapshots: a sample of feature values registered with its statistics, correlated
pairs and (when labelled for a consumer) computed importance.

`add_snapshot` reads the file (Parquet or CSV), matches its columns to catalog feature names
(other columns, except the label, are reported as unknown, not refused), stores per-feature
statistics (`registry.analysis.column_stats`) and every pair of features correlated at or above
the reporting threshold (`registry.analysis.correlation`, Pearson and Spearman, with n). The
file's path and SHA-256 are kept so importance can be computed again later
(`compute_snapshot_importance`, which refuses a file that changed since it was registered).
Adding the same file again (same content, label and consumer) returns the snapshot already
registered.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, NotFound, Problem
from registry.store import models as m

if TYPE_CHECKING:
    import pandas as pd

    from registry.engines import Engine, ProfileRequest, SnapshotProfile
from registry.evidence.importance import (
    GroupEntry,
    ImportanceEntry,
    ImportanceReportView,
    get_importance_report,
    store_report,
)

__all__ = [
    "DEFAULT_CORRELATION_THRESHOLD",
    "DEFAULT_REPEATS",
    "CorrelationView",
    "SnapshotSummary",
    "add_snapshot",
    "compute_snapshot_importance",
    "latest_correlations",
    "list_snapshots",
    "snapshot_correlations",
    "snapshot_stats",
]

DEFAULT_CORRELATION_THRESHOLD = 0.8
DEFAULT_REPEATS = 5


@dataclass
class SnapshotSummary:
    id: int
    name: str
    path: str
    rows: int
    features: list[str]
    unknown_columns: list[str]
    label: str | None
    consumer: str | None
    correlations: int
    created_at: datetime
    already_registered: bool = False
    importance_report_id: int | None = None
    importance_problem: str | None = None
    missing_features: list[str] = field(default_factory=list)
    """Declared features of the consumer that the snapshot lacks (computed importance)."""
    taken_at: datetime | None = None
    """When the sample was taken (None: registered before snapshots had a time; then
    ``created_at``)."""


@dataclass(frozen=True)
class CorrelationView:
    a: str
    b: str
    pearson: float | None
    spearman: float | None
    n: int
    snapshot_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "pearson": self.pearson, "spearman": self.spearman,
                "n": self.n, "snapshot_id": self.snapshot_id}


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex digest, size in bytes) of a file, read in blocks."""
    hasher, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while block := file.read(4 * 2**20):
            hasher.update(block)
            size += len(block)
    return hasher.hexdigest(), size


def _read(path: Path) -> pd.DataFrame:
    from registry.analysis.frame_io import read_frame

    try:
        return read_frame(path)
    except ValueError as exc:
        raise InvalidInput([Problem(str(exc))]) from exc


def _json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN and ±inf as null."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _summary(snapshot: m.Snapshot, correlations: int, *, again: bool = False) -> SnapshotSummary:
    return SnapshotSummary(snapshot.id, snapshot.name, snapshot.path, snapshot.row_count,
                           list(snapshot.features), list(snapshot.unknown_columns),
                           snapshot.label, snapshot.consumer, correlations, snapshot.created_at,
                           already_registered=again,
                           taken_at=snapshot.taken_at or snapshot.created_at)


def check_taken_at(taken_at: datetime | None, now: datetime) -> datetime:
    """The time a sample was taken: aware (InvalidInput when it has no timezone) and not later
    than ``now``; default ``now``."""
    if taken_at is None:
        return now
    if taken_at.tzinfo is None or taken_at.utcoffset() is None:
        raise InvalidInput([Problem(f"taken_at {taken_at.isoformat()} has no timezone: add Z "
                                    "or an offset such as +02:00", field="taken_at")])
    taken_at = taken_at.astimezone(UTC)
    if taken_at > now:
        raise InvalidInput([Problem(f"taken_at {taken_at.isoformat()} is later than now "
                                    f"({now.isoformat(timespec='seconds')})",
                                    field="taken_at")])
    return taken_at


def _refuse_duplicate_columns(path: Path) -> None:
    from registry.analysis.frame_io import column_names

    try:
        names = column_names(path)
    except ValueError:
        return  # reading the file reports it
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput([Problem(
            f"columns named more than once: {', '.join(repeated)}; each column is one "
            "feature, so rename or drop the copies", file=str(path))])


def _registered(session: Session, digest: str, size: int, label: str | None,
                consumer: str | None, taken: datetime | None) -> m.Snapshot | None:
    """The newest snapshot of the same content, label, consumer (and time, when given)."""
    return session.scalars(select(m.Snapshot).where(
        m.Snapshot.sha256 == digest, m.Snapshot.byte_count == size,
        m.Snapshot.label.is_(None) if label is None else m.Snapshot.label == label,
        m.Snapshot.consumer.is_(None) if consumer is None else m.Snapshot.consumer == consumer,
        *(() if taken is None else (m.Snapshot.taken_at == taken,)),
    ).order_by(m.Snapshot.id.desc())).first()


def _require_consumer(session: Session, name: str) -> None:
    if session.scalar(select(m.Consumer.id).where(m.Consumer.name == name)) is None:
        raise NotFound(f"no consumer named {name!r}")


def add_snapshot(
    session: Session, path: str | Path, *, label: str | None = None, consumer: str | None = None,
    name: str | None = None, threshold: float = DEFAULT_CORRELATION_THRESHOLD,
    compute_importance: bool | None = None, repeats: int = DEFAULT_REPEATS,
    actor: str | None = None, taken_at: datetime | None = None, now: datetime | None = None,
    check: Callable[[list[str]], None] | None = None, engine: Engine | None = None,
) -> SnapshotSummary:
    """Register a snapshot with statistics and correlations (see the module docstring).

    Importance is computed too when ``compute_importance`` is true, or by default when both
    ``label`` and ``consumer`` are given; if the snapshot cannot support a model the snapshot is
    still registered and ``importance_problem`` says why. ``check`` sees the catalog features
    among the columns before anything is stored (the caller's authorization).

    ``engine`` (`registry.engines`) computes the statistics where the data lies: by default
    the file is read into memory; another engine (Spark) takes a Parquet path or URI too big
    for one machine, and importance is then left to `compute_snapshot_importance`.
    """
    taken = check_taken_at(taken_at, now or datetime.now(UTC))
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput([Problem(f"threshold must be between 0 and 1, not {threshold}")])
    if consumer is not None:
        _require_consumer(session, consumer)
    if engine is not None and engine.name != "local":
        return _add_with_engine(session, str(path), engine, label=label, consumer=consumer,
                                name=name, threshold=threshold, actor=actor, taken=taken,
                                taken_given=taken_at is not None, check=check)
    path = Path(path).resolve()
    _refuse_duplicate_columns(path)
    frame = _read(path)
    frame.columns = [str(c) for c in frame.columns]
    if label is not None and label not in frame.columns:
        raise InvalidInput([Problem(f"no label column {label!r} (columns: "
                                    f"{', '.join(frame.columns[:20])})", file=str(path))])
    digest, size = file_digest(path)
    again = _registered(session, digest, size, label, consumer,
                        None if taken_at is None else taken)
    if again is not None:
        count = len(snapshot_correlations(session, again.id))
        return _summary(again, count, again=True)
    from registry.engines.local import profile_frame

    snapshot, request = _new_snapshot(
        session, list(frame.columns), name=(name or path.stem), path=str(path), sha256=digest,
        byte_count=size, label=label, consumer=consumer, threshold=threshold, actor=actor,
        taken=taken, check=check)
    profile = profile_frame(frame, request)
    _store_profile(session, snapshot, profile)
    summary = _summary(snapshot, len(profile.pairs))
    if compute_importance is None:
        compute_importance = label is not None and consumer is not None
    if compute_importance:
        try:
            report = compute_snapshot_importance(session, snapshot.id, repeats=repeats,
                                                 frame=frame, actor=actor)
        except InvalidInput as exc:
            summary.importance_problem = "; ".join(str(p) for p in exc.problems)
        else:
            summary.importance_report_id = report.id
            summary.missing_features = list((report.details or {}).get("missing_features", []))
    return summary


def _new_snapshot(session: Session, columns: list[str], *, name: str, path: str, sha256: str,
                  byte_count: int, label: str | None, consumer: str | None, threshold: float,
                  actor: str | None, taken: datetime,
                  check: Callable[[list[str]], None] | None) -> tuple[m.Snapshot, ProfileRequest]:
    """The snapshot row (columns matched to catalog features; ``check`` sees the features
    first), and what its profile needs: each feature's ``expect`` and the pairs strongly
    correlated in a snapshot taken earlier (``tracked``, so a break can be seen later)."""
    from registry.analysis.stability import Thresholds
    from registry.core.settings import AnalysisSettings
    from registry.engines import ProfileRequest

    catalog = set(session.scalars(select(m.Feature.name)))
    others = [c for c in columns if c != label]
    features = [c for c in others if c in catalog]
    if check is not None:
        check(features)
    snapshot = m.Snapshot(
        name=name[:255], path=path, sha256=sha256, byte_count=byte_count, row_count=0,
        columns=list(columns), features=features,
        unknown_columns=[c for c in others if c not in catalog], label=label, consumer=consumer,
        correlation_threshold=threshold, actor=actor, taken_at=taken,
    )
    session.add(snapshot)
    session.flush()
    expects: dict[str, Any] = dict(session.execute(select(m.Feature.name, m.Feature.expect)
                                   .where(m.Feature.expect.is_not(None))).tuples().all())
    present = set(features)
    earlier = select(m.Snapshot.id).where(
        func.coalesce(m.Snapshot.taken_at, m.Snapshot.created_at) < taken)
    C = m.SnapshotCorrelation
    tracked_from = Thresholds.from_settings(AnalysisSettings.from_env()).corr_strong
    strong: set[tuple[str, str]] = set()
    for a, b, pearson, spearman in session.execute(
            select(C.a, C.b, C.pearson, C.spearman).where(C.snapshot_id.in_(earlier))):
        if a in present and b in present and max(abs(pearson or 0.0), abs(spearman or 0.0)) \
                >= tracked_from:
            strong.add((a, b))
    request = ProfileRequest(features, {f: expects[f] for f in features if f in expects},
                             sorted(strong), threshold)
    return snapshot, request


def _store_profile(session: Session, snapshot: m.Snapshot, profile: SnapshotProfile) -> None:
    """The statistics, profiles and correlated pairs an engine computed for ``snapshot``."""
    snapshot.row_count = profile.rows
    session.flush()
    if profile.stats:
        session.execute(insert(m.SnapshotFeatureStats), [
            {"snapshot_id": snapshot.id, "feature": feature, "stats": _json_safe(s.to_dict()),
             "profile": _json_safe(profile.profiles.get(feature))}
            for feature, s in profile.stats.items()])
    if profile.pairs:
        session.execute(insert(m.SnapshotCorrelation), [
            {"snapshot_id": snapshot.id, "a": p.a, "b": p.b, "pearson": p.pearson,
             "spearman": p.spearman, "n": p.n} for p in profile.pairs])


def _add_with_engine(session: Session, uri: str, engine: Engine, *, label: str | None,
                     consumer: str | None, name: str | None, threshold: float,
                     actor: str | None, taken: datetime, taken_given: bool,
                     check: Callable[[list[str]], None] | None) -> SnapshotSummary:
    """A snapshot whose statistics another engine computes where the data lies (a Parquet
    path or URI). Its identity is the file's SHA-256 when it is a local file, else the
    URI's: the same snapshot again (same label and consumer) returns the one registered."""
    local = Path(uri)
    if local.is_file():
        uri = str(local.resolve())
        digest, size = file_digest(local)
    else:
        digest, size = hashlib.sha256(uri.encode()).hexdigest(), 0
    again = _registered(session, digest, size, label, consumer, taken if taken_given else None)
    if again is not None:
        return _summary(again, len(snapshot_correlations(session, again.id)), again=True)
    try:
        columns = engine.columns(uri)
    except Exception as exc:  # the engine's reader says what is wrong with the input
        raise InvalidInput([Problem(f"cannot be read by the {engine.name} engine: "
                                    f"{str(exc).splitlines()[0][:300]}", file=uri)]) from exc
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InvalidInput([Problem(f"columns named more than once: {', '.join(repeated)}",
                                    file=uri)])
    if label is not None and label not in columns:
        raise InvalidInput([Problem(f"no label column {label!r} (columns: "
                                    f"{', '.join(columns[:20])})", file=uri)])
    stem = PurePosixPath(uri.rstrip("/")).name.split(".")[0] or uri
    snapshot, request = _new_snapshot(
        session, columns, name=name or stem, path=uri, sha256=digest, byte_count=size,
        label=label, consumer=consumer, threshold=threshold, actor=actor, taken=taken,
        check=check)
    try:
        profile = engine.profile_snapshot(uri, request)
    except ValueError as exc:
        raise InvalidInput([Problem(str(exc), file=uri)]) from exc
    _store_profile(session, snapshot, profile)
    summary = _summary(snapshot, len(profile.pairs))
    if label is not None and consumer is not None:
        summary.importance_problem = (f"importance is computed in memory: run `featreg "
                                      f"snapshot importance {snapshot.id}` where the file fits")
    return summary


def _declared_features(session: Session, consumer: str) -> list[str]:
    _require_consumer(session, consumer)
    return list(session.scalars(
        select(m.Feature.name)
        .join(m.ConsumerFeature, m.ConsumerFeature.feature_id == m.Feature.id)
        .join(m.Consumer, m.Consumer.id == m.ConsumerFeature.consumer_id)
        .where(m.Consumer.name == consumer).order_by(m.Feature.name)))


def compute_snapshot_importance(
    session: Session, snapshot_id: int, *, repeats: int = DEFAULT_REPEATS,
    method: str = "permutation", frame: pd.DataFrame | None = None,
    now: datetime | None = None, actor: str | None = None,
) -> ImportanceReportView:
    """Compute importance of the snapshot's consumer's declared features for its label and
    store it as a computed report (method ``permutation-computed`` or
    ``leave-one-out-computed``, with std, repeats and correlated-group rows).

    Raises NotFound (no such snapshot or consumer) or InvalidInput (no label or consumer, the
    file changed or vanished, or the data cannot support a model).
    """
    from registry.analysis.computed_importance import compute_importance

    snapshot = session.get(m.Snapshot, snapshot_id)
    if snapshot is None:
        raise NotFound(f"no snapshot {snapshot_id}")
    where: dict[str, Any] = {"file": snapshot.path}
    if not snapshot.label or not snapshot.consumer:
        raise InvalidInput([Problem(f"snapshot {snapshot_id} was registered without --label "
                                    "and --consumer: importance needs both", **where)])
    features = _declared_features(session, snapshot.consumer)
    if frame is None:
        path = Path(snapshot.path)
        if not path.is_file() or file_digest(path) != (snapshot.sha256, snapshot.byte_count):
            raise InvalidInput([Problem("the file is gone or changed since snapshot "
                                        f"{snapshot_id} was registered: add it again", **where)])
        frame = _read(path)
        frame.columns = [str(c) for c in frame.columns]
    try:
        result = compute_importance(frame, snapshot.label, features, method=method,  # type: ignore[arg-type]
                                    repeats=repeats)
    except ValueError as exc:
        raise InvalidInput([Problem(f"importance: {exc}", **where)]) from exc
    details = {
        "task": result.task, "baseline_score": result.baseline_score, "n_train": result.n_train,
        "n_test": result.n_test, "missing_features": list(result.missing_features),
        "unusable_features": list(result.unusable_features),
    }
    report_id, _ = store_report(
        session, snapshot.consumer,
        {name: ImportanceEntry(fi.value, fi.std, fi.repeats)
         for name, fi in result.features.items()},
        reported_at=now or datetime.now(UTC), method=result.method, metric=result.metric,
        source="computed", snapshot_id=snapshot.id, actor=actor,
        groups=[GroupEntry(tuple(g.members), g.value, g.std, g.repeats) for g in result.groups],
        details=_json_safe(details),
    )
    return get_importance_report(session, report_id)


def list_snapshots(session: Session) -> list[SnapshotSummary]:
    """Every snapshot, newest first."""
    snapshots = list(session.scalars(select(m.Snapshot).order_by(m.Snapshot.id.desc())))
    return [_summary(s, len(snapshot_correlations(session, s.id))) for s in snapshots]


def snapshot_stats(session: Session, snapshot_id: int) -> dict[str, dict[str, Any]]:
    """Per-feature statistics of one snapshot."""
    rows = session.scalars(select(m.SnapshotFeatureStats)
                           .where(m.SnapshotFeatureStats.snapshot_id == snapshot_id)
                           .order_by(m.SnapshotFeatureStats.feature))
    return {row.feature: row.stats for row in rows}


def snapshot_correlations(session: Session, snapshot_id: int) -> list[CorrelationView]:
    C = m.SnapshotCorrelation
    rows = session.scalars(select(C).where(C.snapshot_id == snapshot_id).order_by(C.a, C.b))
    return [CorrelationView(r.a, r.b, r.pearson, r.spearman, r.n, r.snapshot_id) for r in rows]


def latest_correlations(session: Session) -> list[CorrelationView]:
    """Correlated pairs as the newest evidence has them: each pair comes from the newest
    snapshot that holds both features; if that snapshot stored no such pair (they are no longer
    correlated there), older snapshots do not bring it back."""
    snapshots = list(session.scalars(select(m.Snapshot).order_by(m.Snapshot.id.desc())))
    newer: list[set[str]] = []
    result: list[CorrelationView] = []
    for snapshot in snapshots:
        for pair in snapshot_correlations(session, snapshot.id):
            if not any(pair.a in held and pair.b in held for held in newer):
                result.append(pair)
        newer.append(set(snapshot.features))
    return sorted(result, key=lambda p: (p.a, p.b))
