"""Importance reports: what each feature is worth to each consumer, with history.

A report is one consumer's importance of its features at one time (a training run): reported
by the consumer (SDK, CSV) or computed from a labelled snapshot (`registry.evidence.snapshots`).
Reports are never overwritten by later ones; the analysis reads the latest report per consumer
and the UI shows the trend.

A reported report is identified by (consumer, ts, method, metric): storing one that exists
replaces its values when they differ and changes nothing when they are equal, so re-ingesting
a CSV file whose rows carry ``ts`` is idempotent. Rows without ``ts`` take the time of the
ingest, so each ingest of such a file is a new report.

CSV rule (``featreg importance ingest``): all or nothing. A report with a missing row would
distort every share computed from it, so a file with any bad row is refused as a whole and
every problem is listed with its line number (exit status 1, nothing stored). Columns:
``consumer,feature,importance`` required, ``method,metric,ts`` optional (``ts`` ISO 8601 with a
timezone, or a date for midnight UTC). The consumer must be registered; features need not be
(a model may use inputs outside the catalog, and they count in its total importance).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from registry.core.errors import InvalidInput, NotFound, Problem
from registry.core.names import name_problem, text_problem
from registry.core.timeparse import InvalidTime, as_utc, parse_time
from registry.store import models as m

__all__ = [
    "DEFAULT_METHOD",
    "GroupEntry",
    "ImportanceEntry",
    "ImportanceIngestSummary",
    "ImportanceReportView",
    "effective_reports",
    "get_importance_report",
    "ingest_importance_csv",
    "latest_reports",
    "report_history",
    "report_importance",
    "store_report",
]

DEFAULT_METHOD = "unspecified"
REQUIRED_COLUMNS = ("consumer", "feature", "importance")
OPTIONAL_COLUMNS = ("method", "metric", "ts")


@dataclass(frozen=True)
class ImportanceEntry:
    value: float
    std: float | None = None
    repeats: int | None = None


@dataclass(frozen=True)
class GroupEntry:
    members: tuple[str, ...]
    value: float
    std: float | None = None
    repeats: int | None = None


@dataclass(frozen=True)
class ImportanceReportView:
    id: int
    consumer: str
    reported_at: datetime
    method: str
    metric: str | None
    source: str
    snapshot_id: int | None
    values: dict[str, ImportanceEntry]
    groups: tuple[GroupEntry, ...] = ()
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reported_at"] = self.reported_at.isoformat()
        data["groups"] = [{**g, "members": list(g["members"])} for g in data["groups"]]
        return data


@dataclass
class ImportanceIngestSummary:
    rows: int = 0
    created: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    unknown_features: list[str] = field(default_factory=list)


def _utc(moment: datetime) -> datetime:
    try:
        return as_utc(moment)
    except InvalidTime as exc:
        raise InvalidInput([Problem(str(exc), field="ts")]) from None


def _entry(value: float | ImportanceEntry) -> ImportanceEntry:
    return value if isinstance(value, ImportanceEntry) else ImportanceEntry(float(value))


def _same_values(session: Session, report_id: int, values: Mapping[str, ImportanceEntry]) -> bool:
    stored = {
        row.feature: ImportanceEntry(row.value, row.std, row.repeats)
        for row in session.scalars(select(m.ImportanceReportValue)
                                   .where(m.ImportanceReportValue.report_id == report_id))
    }
    return stored == dict(values)


def store_report(
    session: Session, consumer: str, values: Mapping[str, float | ImportanceEntry], *,
    reported_at: datetime, method: str = DEFAULT_METHOD, metric: str | None = None,
    source: str = "reported", snapshot_id: int | None = None, groups: Iterable[GroupEntry] = (),
    details: dict[str, Any] | None = None, actor: str | None = None,
) -> tuple[int, str]:
    """Store a report (values already validated); returns (report id, created|replaced|unchanged).
    """
    entries = {name: _entry(value) for name, value in values.items()}
    reported_at = _utc(reported_at)
    existing = None
    if source == "reported":
        existing = session.scalars(select(m.ImportanceReport).where(
            m.ImportanceReport.consumer == consumer, m.ImportanceReport.source == source,
            m.ImportanceReport.reported_at == reported_at, m.ImportanceReport.method == method,
            m.ImportanceReport.metric.is_(None) if metric is None
            else m.ImportanceReport.metric == metric,
        ).order_by(m.ImportanceReport.id)).first()
    if existing is not None:
        if _same_values(session, existing.id, entries):
            return existing.id, "unchanged"
        session.execute(delete(m.ImportanceReportValue)
                        .where(m.ImportanceReportValue.report_id == existing.id))
        session.execute(delete(m.ImportanceReportGroup)
                        .where(m.ImportanceReportGroup.report_id == existing.id))
        report, outcome = existing, "replaced"
    else:
        report = m.ImportanceReport(consumer=consumer, reported_at=reported_at, method=method,
                                    metric=metric, source=source, snapshot_id=snapshot_id,
                                    details=details, actor=actor)
        session.add(report)
        outcome = "created"
    session.flush()
    session.add_all(m.ImportanceReportValue(report_id=report.id, feature=name, value=e.value,
                                            std=e.std, repeats=e.repeats)
                    for name, e in entries.items())
    session.add_all(m.ImportanceReportGroup(report_id=report.id, members=sorted(g.members),
                                            value=g.value, std=g.std, repeats=g.repeats)
                    for g in groups)
    session.flush()
    return report.id, outcome


def _check_text(value: str | None, what: str, limit: int, problems: list[Problem],
                **where: Any) -> None:
    if value is not None and len(value) > limit:
        problems.append(Problem(f"{what} is longer than {limit} characters", **where))
    elif value is not None and (problem := text_problem(value, what)):
        problems.append(Problem(problem, **where))


def _check_value(value: object, problems: list[Problem], **where: Any) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.append(Problem(f"importance {value!r} is not a number", **where))
        return None
    if not math.isfinite(number):
        problems.append(Problem(f"importance {value!r} is not a finite number", **where))
        return None
    return number


def _report_time(value: object) -> datetime:
    """A report's ``ts``: an aware datetime (SDK) or an ISO 8601 string (API), as UTC."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        return parse_time(value)
    raise InvalidTime(f"ts must be an ISO 8601 date-time, not {value!r}")


def report_importance(
    session: Session, consumer: str, values: Mapping[str, float], *, method: str | None = None,
    metric: str | None = None, ts: datetime | str | None = None, actor: str | None = None,
) -> tuple[int, str]:
    """Validate and store one reported importance report: the one service of the SDK (both
    transports) and ``POST /api/v1/importance``, which hands it the decoded JSON as it is.

    Problems of shape (types, ``ts``) are InvalidInput; then an unregistered consumer is
    NotFound; then problems of the values are InvalidInput, all listed.
    """
    problems: list[Problem] = []
    if problem := name_problem(consumer, "consumer"):
        problems.append(Problem(problem, field="consumer"))
    if not isinstance(values, Mapping):
        problems.append(Problem("values must be an object of feature name to number",
                                field="values"))
    for key, text in (("method", method), ("metric", metric)):
        if text is not None and not isinstance(text, str):
            problems.append(Problem(f"{key} must be a string", field=key))
    reported_at = datetime.now(UTC)
    if ts is not None:
        try:
            reported_at = _report_time(ts)
        except InvalidTime as exc:
            problems.append(Problem(str(exc), field="ts"))
    if problems:
        raise InvalidInput(problems)
    if session.scalar(select(m.Consumer.id).where(m.Consumer.name == consumer)) is None:
        raise NotFound(f"no consumer named {consumer!r}: register it before reporting importance")
    if not values:
        problems.append(Problem("no importance values given"))
    checked: dict[str, float] = {}
    for name, value in values.items():
        if problem := name_problem(name, "feature"):
            problems.append(Problem(f"{problem}: {name!r}"))
        number = _check_value(value, problems, field=str(name))
        if number is not None:
            checked[str(name)] = number
    _check_text(method, "method", 64, problems)
    _check_text(metric, "metric", 64, problems)
    if problems:
        raise InvalidInput(problems)
    return store_report(session, consumer, checked, reported_at=reported_at,
                        method=method or DEFAULT_METHOD, metric=metric or None, actor=actor)


def ingest_importance_csv(session: Session, path: str | Path, *, actor: str | None = None,
                          now: datetime | None = None) -> ImportanceIngestSummary:
    """Ingest an importance CSV file, all or nothing (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    now = now or datetime.now(UTC)
    consumers = set(session.scalars(select(m.Consumer.name)))
    reports: dict[tuple[str, datetime, str, str | None], dict[str, float]] = {}
    problems: list[Problem] = []
    summary = ImportanceIngestSummary()
    reader: csv.DictReader[str] | None = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            extra = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
            if missing or extra:
                expected = ",".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
                wrong = [f"missing {', '.join(missing)}"] * bool(missing) + [
                    f"unknown {', '.join(extra)}"] * bool(extra)
                raise InvalidInput([Problem(f"header: {'; '.join(wrong)} (expected {expected})",
                                            file=str(path), line=1)])
            for row in reader:
                where: dict[str, Any] = {"file": str(path), "line": reader.line_num}
                summary.rows += 1
                key = _row_key(row, consumers, now, problems, where)
                value = _check_value((row.get("importance") or "").strip(), problems, **where)
                feature = (row.get("feature") or "").strip()
                if problem := name_problem(feature, "feature"):
                    problems.append(Problem(problem, **where))
                    continue
                if key is None or value is None:
                    continue
                values = reports.setdefault(key, {})
                if feature in values:
                    problems.append(Problem(f"feature {feature!r} appears twice in the report of "
                                            f"{key[0]} at {key[1].isoformat()}", **where))
                values[feature] = value
    except (UnicodeDecodeError, csv.Error) as exc:
        # text is decoded ahead of the rows, so a decoding error has no reliable line
        line = None if isinstance(exc, UnicodeDecodeError) else reader.line_num if reader else 1
        why = (f"not UTF-8 text ({exc.reason}); importance ingest reads plain UTF-8 CSV"
               if isinstance(exc, UnicodeDecodeError) else f"not readable as CSV: {exc}")
        raise InvalidInput([*problems, Problem(why, file=str(path), line=line)]) from None
    if problems:
        raise InvalidInput(problems)
    known = set(session.scalars(select(m.Feature.name)))
    for (consumer, reported_at, method, metric), values in reports.items():
        report_id, outcome = store_report(session, consumer, values, reported_at=reported_at,
                                          method=method, metric=metric, actor=actor)
        getattr(summary, outcome).append(report_id)
        summary.unknown_features.extend(f for f in values if f not in known)
    summary.unknown_features = sorted(set(summary.unknown_features))
    return summary


def _row_key(row: dict[str, str | None], consumers: set[str], now: datetime,
             problems: list[Problem], where: dict[str, Any]
             ) -> tuple[str, datetime, str, str | None] | None:
    consumer = (row.get("consumer") or "").strip()
    method = (row.get("method") or "").strip() or DEFAULT_METHOD
    metric = (row.get("metric") or "").strip() or None
    ts_text = (row.get("ts") or "").strip()
    before = len(problems)
    if not consumer:
        problems.append(Problem("consumer is missing", **where))
    elif consumer not in consumers:
        problems.append(Problem(f"no consumer named {consumer!r}: register it first", **where))
    _check_text(method, "method", 64, problems, **where)
    _check_text(metric, "metric", 64, problems, **where)
    reported_at = now
    if ts_text:
        try:
            reported_at = parse_time(ts_text, dates=True)
        except ValueError as exc:
            problems.append(Problem(f"ts: {exc}", **where))
    if len(problems) > before:
        return None
    return consumer, reported_at.astimezone(UTC), method, metric


def _views(session: Session, reports: list[m.ImportanceReport]) -> list[ImportanceReportView]:
    ids = [r.id for r in reports]
    values: dict[int, dict[str, ImportanceEntry]] = {i: {} for i in ids}
    groups: dict[int, list[GroupEntry]] = {i: [] for i in ids}
    if ids:
        for v in session.scalars(select(m.ImportanceReportValue)
                                 .where(m.ImportanceReportValue.report_id.in_(ids))
                                 .order_by(m.ImportanceReportValue.feature)):
            values[v.report_id][v.feature] = ImportanceEntry(v.value, v.std, v.repeats)
        for g in session.scalars(select(m.ImportanceReportGroup)
                                 .where(m.ImportanceReportGroup.report_id.in_(ids))
                                 .order_by(m.ImportanceReportGroup.id)):
            groups[g.report_id].append(GroupEntry(tuple(g.members), g.value, g.std, g.repeats))
    return [
        ImportanceReportView(r.id, r.consumer, r.reported_at, r.method, r.metric, r.source,
                             r.snapshot_id, values[r.id], tuple(groups[r.id]), r.details)
        for r in reports
    ]


def get_importance_report(session: Session, report_id: int) -> ImportanceReportView:
    report = session.get(m.ImportanceReport, report_id)
    if report is None:
        raise NotFound(f"no importance report {report_id}")
    return _views(session, [report])[0]


def latest_reports(session: Session, *, source: str | None = None,
                   consumers: Iterable[str] | None = None) -> dict[str, ImportanceReportView]:
    """The latest report (by ts, then by id) per consumer, optionally of one source only."""
    R = m.ImportanceReport
    rank = func.row_number().over(partition_by=R.consumer,
                                  order_by=(R.reported_at.desc(), R.id.desc())).label("rank")
    ranked = select(R.id, rank)
    if source is not None:
        ranked = ranked.where(R.source == source)
    if consumers is not None:
        ranked = ranked.where(R.consumer.in_(sorted(set(consumers))))
    inner = ranked.subquery()
    latest = select(inner.c.id).where(inner.c.rank == 1)
    reports = list(session.scalars(select(R).where(R.id.in_(latest)).order_by(R.consumer)))
    return {view.consumer: view for view in _views(session, reports)}


def effective_reports(session: Session) -> dict[str, ImportanceReportView]:
    """Per consumer, the latest reported report, or the latest computed one when it has none
    (the importance the analysis uses)."""
    result = latest_reports(session, source="computed")
    result.update(latest_reports(session, source="reported"))
    return dict(sorted(result.items()))


def report_history(session: Session, consumer: str, *,
                   limit: int | None = None) -> list[ImportanceReportView]:
    """A consumer's reports, newest first."""
    R = m.ImportanceReport
    query = select(R).where(R.consumer == consumer).order_by(R.reported_at.desc(), R.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return _views(session, list(session.scalars(query)))
